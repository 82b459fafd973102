"""``--es-pop-chunk``: parsing, the CPU's caches from sysfs, and how ``bench`` chooses a block."""
import pytest

from bench.measure import chunking
from bench.validate import pop_chunk_setting


def fake_sysfs(root, caches):
    """A ``/sys/devices/system/cpu`` with cpu0's caches: [(level, type, size text)]."""
    for i, (level, kind, size) in enumerate(caches):
        folder = root / "cpu0" / "cache" / f"index{i}"
        folder.mkdir(parents=True)
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    return root


def test_data_caches_read_sysfs_and_skip_the_instruction_cache(tmp_path):
    root = fake_sysfs(tmp_path, [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
                                 (3, "Unified", "32M")])
    assert chunking.data_caches(0, root) == {1: 48 * 1024, 2: 1024**2, 3: 32 * 1024**2}
    assert chunking.data_caches(0, tmp_path / "none") == {}


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("OFF", "off"), (" 250 ", 250), (7, 7)])
def test_pop_chunk_setting(text, value):
    assert pop_chunk_setting("--es-pop-chunk", text) == value


@pytest.mark.parametrize("text", ["0", "-3", "many", "2.5", ""])
def test_bad_pop_chunk_is_one_clear_line(text):
    with pytest.raises(ValueError, match=r"--es-pop-chunk='.*' is not allowed; give a positive int .*, auto or off"):
        pop_chunk_setting("--es-pop-chunk", text)


def test_auto_sizes_a_block_from_the_l2_cache(monkeypatch, tmp_path):
    """At 50 evals, hidden 48, Pendulum (241 parameters, 3 observations): 4 MiB / 12 564 B = 333
    members; 10x the L2, 10x the block; the whole population when it is smaller."""
    monkeypatch.setattr(chunking, "data_caches", lambda: {2: 1024**2})
    args = dict(evals=50, hidden=48, num_params=241, obs_size=3)
    assert chunking.member_step_bytes(241, 50, 48, 3) == 4 * (241 + 50 * (48 + 6 + 4))
    chunk, why = chunking.resolve_pop_chunk("auto", "cpu", 100_000, **args)
    assert chunk == 4 * 1024**2 // 12_564 == 333 and why.startswith("auto: 4 x L2 (1024 KiB")
    assert chunking.resolve_pop_chunk("auto", "cpu", 300, **args)[0] is None  # one block: no loop
    monkeypatch.setattr(chunking, "data_caches", lambda: {2: 10 * 1024**2})
    assert chunking.resolve_pop_chunk("auto", "cpu", 100_000, **args)[0] == 40 * 1024**2 // 12_564
    monkeypatch.setattr(chunking, "data_caches", lambda: {})
    chunk, why = chunking.resolve_pop_chunk("auto", "cpu", 100_000, **args)
    assert chunk == 333 and "assumed" in why


def test_auto_is_the_whole_population_off_the_cpu_and_per_device_on_a_cpu_mesh(monkeypatch):
    monkeypatch.setattr(chunking, "data_caches", lambda: {2: 1024**2})
    args = dict(evals=50, hidden=48, num_params=241, obs_size=3)
    assert chunking.resolve_pop_chunk("auto", "gpu", 100_000, **args) == (None, "auto: whole population on gpu")
    assert chunking.resolve_pop_chunk("auto", "gpu", 100_000, **args, shards=4)[0] is None
    # the whole CPU: each device's rows in blocks sized to its core's cache, as on one device
    chunk, why = chunking.resolve_pop_chunk("auto", "cpu", 100_000, **args, shards=2)
    assert chunk == 333 and why.endswith("per device")
    assert chunking.resolve_pop_chunk("auto", "cpu", 600, **args, shards=2)[0] is None  # 300 rows: one block
    assert chunking.resolve_pop_chunk(500, "cpu", 100_000, **args, shards=2) == (500, "given per device")
    assert chunking.resolve_pop_chunk(500, "cpu", 1000, **args, shards=2)[0] is None  # 500 rows a device
    assert chunking.resolve_pop_chunk(500, "gpu", 100_000, **args) == (500, "given")  # the user's number wins
    assert chunking.resolve_pop_chunk("off", "cpu", 100_000, **args) == (None, "off")
