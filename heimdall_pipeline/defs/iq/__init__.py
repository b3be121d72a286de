"""Wiring of the IQ stage: iq_metrics, the comparison report, its check and sensor."""
