"""Report assets, their checks, jobs and schedules (placeholder until the analytics layer lands)."""

ANALYTICS_ASSETS: list = []
ANALYTICS_ASSET_CHECKS: list = []
ANALYTICS_JOBS: list = []
ANALYTICS_SCHEDULES: list = []
