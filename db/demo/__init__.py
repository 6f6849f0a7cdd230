"""The demo county (佛坪县): deterministic, Chinese, reproducing the figures of DOMAIN.md."""
