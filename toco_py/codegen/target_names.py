"""The names `codegen --target` takes, apart from mcu.py's facts about each core, so that the
CLI lists them without importing mcu.py (its dataclasses) at start-up."""
HOST = "host"
CORTEX_M = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
TARGET_NAMES = (HOST, *CORTEX_M)
