"""Test support shared by the suites (on pytest's pythonpath): CRD schema checks and the like."""
