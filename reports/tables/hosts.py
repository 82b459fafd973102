"""The machines table: one row per host (CPU, cores, RAM, OS, software, devices and the warnings
that made it unfit to be measured), from the files' machine_info."""
from __future__ import annotations

import pandas as pd

from reports import formatting as fmt
from reports import notices
from reports.load import Results


def machines(res: Results) -> pd.DataFrame:
    """One row per host: CPU, cores, RAM, OS, software and devices (files of one host merged).

    Plus a ``warnings`` column (:func:`reports.notices.warnings_cell`: unused accelerators,
    failed backends, WARN system checks) where any host had one; a report of fit machines
    keeps the table it always had.
    """
    out = []
    for host, g in res.machines.groupby("host", sort=False):
        first = g.iloc[0]
        devices: dict[str, str] = {}
        for devs in g["devices"]:
            for d in devs:
                # allocator_limit_bytes: jax's memory pool (files before it called it memory_bytes)
                mem = d.get("allocator_limit_bytes", d.get("memory_bytes"))
                text = f"{d.get('id', '?')} {d.get('kind', '')}".strip()
                if fmt.is_real(mem) and mem > 0:
                    text += f" ({fmt.gib(mem, 0)} allocator pool)"
                devices.setdefault(str(d.get("id")), text)
        phys, logi = first["physical_cores"], first["logical_cores"]
        ram = first["ram_bytes"]
        out.append(
            {
                "host": host,
                "CPU": first["cpu_model"] or "",
                "cores (physical / logical)": f"{fmt.int_or_unknown(phys)} / {fmt.int_or_unknown(logi)}",
                "RAM": fmt.gib(ram, 1),
                "OS": first["os"] or "",
                "Python": first["python"] or "",
                "jax / jaxlib": f"{first['jax_version'] or '?'} / {first['jaxlib_version'] or '?'}",
                "devices": "; ".join(devices.values()),
                "warnings": notices.warnings_cell([m.to_dict() for _, m in g.iterrows()]),
                "files": ", ".join(g["file"]),
            }
        )
    df = pd.DataFrame(out)
    if not df["warnings"].astype(bool).any():
        df = df.drop(columns="warnings")
    return df
