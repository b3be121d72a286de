"""Development tools (sample data, synthetic IQ, the accuracy harness, the demo); the runtime never imports them."""
