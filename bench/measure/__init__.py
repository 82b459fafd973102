"""Building and timing one case: targets, placement, timing, compile and runtime rounds, FLOPs,
memory, machine information, and the evosax + gymnax peer."""
