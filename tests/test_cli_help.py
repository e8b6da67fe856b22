"""`toco-py convert --help` documents every TOCO flag scripts rely on."""
from tests.support.cli import toco


def test_convert_help_documents_toco_flags():
    proc = toco("convert", "--help")
    assert proc.returncode == 0, proc.stderr
    for flag in ("--graph_def_file", "--output_file", "--input_arrays", "--output_arrays",
                 "--input_shapes", "--allow_custom_ops"):
        assert flag in proc.stdout, flag
    assert "1,224,224,3:1,10" in proc.stdout


def test_unknown_command_is_one_line_error():
    proc = toco("frobnicate")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "frobnicate" in proc.stderr
