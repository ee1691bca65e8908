"""Drizzling: the engine, the output grid, a given output WCS and the i2d product the resample and mosaic steps share."""
