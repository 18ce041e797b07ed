"""Where Spark and Java are on this machine, checked before anything is started.

Spark Standalone daemons are started from the pyspark installation itself (its
`bin/spark-class` under `pyspark.__path__`), so nothing is downloaded. Spark 4 needs Java 17
or newer; a missing or old `java` is a user problem (`UserError`, one line), not a traceback.
`JAVA_HOME` wins over `PATH`, as in Spark's own launch scripts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from sparkdelay.ground.errors import UserError

MIN_JAVA = 17


def spark_home() -> Path:
    """The pyspark package directory, which doubles as SPARK_HOME (it holds bin/ and jars/)."""
    try:
        import pyspark
    except ImportError:
        raise UserError("pyspark is not installed: install the 'real' extra (pip install -e '.[real]')") from None
    home = Path(pyspark.__path__[0])
    if not (home / "bin" / "spark-class").is_file() or not (home / "jars").is_dir():
        raise UserError(f"pyspark at {home} has no bin/spark-class or jars/: reinstall pyspark")
    return home


def spark_class() -> Path:
    return spark_home() / "bin" / "spark-class"


def python_executable() -> str:
    """The interpreter that drivers and Python workers use (the one running sparkdelay)."""
    return sys.executable


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
        raise UserError(f"JAVA_HOME={java_home} has no bin/java: fix JAVA_HOME or unset it")
    found = shutil.which("java")
    if not found:
        raise UserError("java not found: Spark needs Java 17+ (apt-get install openjdk-17-jre-headless)")
    return found


def java_major(java: str) -> int:
    """Major version from `java -version` (`"17.0.15"` -> 17, old style `"1.8.0"` -> 8)."""
    try:
        # A small heap: a version probe need not reserve a quarter of the machine's memory, which
        # fails under an address-space limit (ulimit -v; the fuzz tests run commands under one).
        out = subprocess.run([java, "-Xmx64m", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run {java} -version: {exc}") from None
    text = out.stderr + out.stdout
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        raise UserError(f"cannot read the Java version from `{java} -version`")
    major = int(m.group(1))
    if major == 1 and m.group(2):
        major = int(m.group(2))
    return major


def check_java() -> str:
    """Return the java binary, or raise UserError if it is missing or older than 17."""
    java = find_java()
    major = java_major(java)
    if major < MIN_JAVA:
        raise UserError(f"{java} is Java {major}; Spark 4 needs Java {MIN_JAVA} or newer")
    return java
