"""The IQ recordings: reading them safely, measuring them, storing and comparing the metrics."""
