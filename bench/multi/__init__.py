"""Many devices: device sets (:mod:`.devices`), one population sharded over a mesh
(:mod:`.sharding`), and several processes as one jax system (:mod:`.distributed`, :mod:`.sync`)."""
