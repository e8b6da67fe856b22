"""`toco-py codegen`: generate, report, and with --verify build, run and compare."""
from __future__ import annotations

import click

from ..report import print_table


def codegen_command(model: str, output_dir: str, name: str | None, verify: bool, seed: int) -> bool:
    """Returns False when verification fails (the CLI exits with 1)."""
    import os

    from ..tensor_io import load_tflite
    from .bundle import file_bundle_name, generate_bundle

    graph, _ = load_tflite(model)  # once: the bundle and the verification share it
    bundle = generate_bundle(graph, output_dir, file_bundle_name(model, name),
                             os.path.basename(model))
    click.echo(f"wrote {output_dir}: {bundle.op_count} ops, arena {bundle.plan.arena_size} bytes, "
               f"weights {bundle.weight_bytes} bytes, kernels: {', '.join(bundle.families) or 'none'}",
               err=True)
    if not verify:
        return True
    from .verify import REPORT_COLUMNS, report_rows, verify_bundle

    report = verify_bundle(graph, output_dir, bundle.name, bundle.plan.arena_size, seed)
    print_table(f"C bundle (seed {seed}, arena {report.arena_size} bytes) vs the float64 truth within "
                "the float tolerance policy's allowance; integer outputs vs the interpreter, exactly",
                REPORT_COLUMNS, report_rows(report))
    return report.passed
