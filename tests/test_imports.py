"""The separation path imports only what it uses (issue 20, item 5): start-up time is paid by every test.py run."""

import json
import subprocess
import sys

from conftest import ROOT, make_model_folder, write_tone

# imported by evaluation, training, plots and export, never needed to separate a file
HEAVY = ("matplotlib", "musdb", "museval", "scipy", "onnx", "onnxruntime", "pandas", "sklearn", "scikit_posthocs",
         "selenium")

_RUN = """
import json, sys
from openunmix.commands.separate import separate_command
status = separate_command(sys.argv[1:] + ["--quiet"])
print(json.dumps({"status": status, "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


def test_separating_a_file_imports_no_evaluation_training_or_export_library(tmp_path):
    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    song = write_tone(tmp_path / "song.wav", seconds=0.5, rate=16000)
    r = subprocess.run([sys.executable, "-c", _RUN, str(model), "--input", str(song), "--outdir", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["status"] == 0 and (tmp_path / "o" / "song" / "vocals.wav").is_file()
    loaded = sorted(set(HEAVY) & set(result["modules"]))
    assert not loaded, f"the separation path imported {loaded}"
