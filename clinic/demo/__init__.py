"""A realistic fictional clinic for demos, tests and benchmarks (`liangbing demo`)."""

from clinic.demo.build import DemoSummary, build_demo

__all__ = ["DemoSummary", "build_demo"]
