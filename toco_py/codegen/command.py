"""`toco-py codegen`: generate, report, and with --verify build, run and compare."""
from __future__ import annotations

import click

from ..report import print_table


def codegen_command(model: str, output_dir: str, name: str | None, verify: bool, seed: int,
                    steps: int = 1, target: str = "host", arena_section: str | None = None,
                    max_arena: int | None = None) -> bool:
    """Returns False when verification fails (the CLI exits with 1). steps > 1: verify that
    many invokes of one bundle process, in order, against one interpreter. target: a
    Cortex-M core (mcu.py) builds and runs the test program under QEMU."""
    import os

    from ..errors import TocoError
    from ..tensor_io import load_tflite
    from .api_files import packed_weights_text
    from .bundle import file_bundle_name, generate_bundle

    if steps > 1 and not verify:
        raise TocoError(f"--steps {steps} is the number of invokes --verify runs; add --verify")

    graph, _ = load_tflite(model)  # once: the bundle and the verification share it
    bundled = graph
    if max_arena is not None:
        from .tiling import choose

        bundled, chosen = choose(graph, max_arena)
        click.echo(f"--max_arena {max_arena}: {chosen}", err=True)
    # --verify holds a tiled bundle to the model as it is, not to its tiled graph.
    bundle = generate_bundle(bundled, output_dir, file_bundle_name(model, name),
                             os.path.basename(model), target, arena_section)
    state = f", state {bundle.state_size} bytes" if bundle.state_size else ""
    click.echo(f"wrote {output_dir}: {bundle.op_count} ops, arena {bundle.plan.arena_size} bytes{state}, "
               f"weights {bundle.weight_bytes} bytes{packed_weights_text(bundle.lut_bytes)}, "
               f"kernels: {', '.join(bundle.families) or 'none'}",
               err=True)
    if target != "host":
        _report_footprint(bundle, output_dir, target)
    if not verify:
        return True
    from .verify import REPORT_COLUMNS, report_rows, verify_bundle, verify_steps

    if steps > 1:
        report = verify_steps(graph, output_dir, bundle.name, bundle.plan.arena_size, steps, seed, target=target)
        title = (f"C bundle, {steps} invokes in one process (step k: seed {seed} + k; arena "
                 f"{report.arena_size} bytes, state {bundle.state_size} bytes) vs the float64 truth of "
                 "the sequence within the float tolerance policy's allowance; integer outputs vs "
                 "the interpreter's same step, exactly")
    else:
        report = verify_bundle(graph, output_dir, bundle.name, bundle.plan.arena_size, seed, target=target)
        title = (f"C bundle (seed {seed}, arena {report.arena_size} bytes) vs the float64 truth within "
                 "the float tolerance policy's allowance; integer outputs vs the interpreter, exactly")
    if target != "host":
        title = f"{target} under QEMU: {title}"
    print_table(title, REPORT_COLUMNS, report_rows(report))
    if report.instructions:
        click.echo(f"instructions per invoke on the {target} (QEMU -icount): "
                   f"{', '.join(str(n) for n in report.instructions)}; bytes of stack written: "
                   f"{', '.join(str(n) for n in report.stack)}", err=True)
    return report.passed


def _report_footprint(bundle, output_dir: str, target: str) -> None:
    """Measures the bundle on the target with the cross compiler, prints it and adds it to
    the bundle's README; says why when the compiler is missing."""
    import os

    from .bundle import write_atomic
    from .footprint import measure
    from .mcu import TARGETS, missing_tools

    missing = missing_tools(build_only=True)
    if missing:
        from .mcu import INSTALL_HINT

        click.echo(f"footprint not measured: {' and '.join(missing)} not found: {INSTALL_HINT}", err=True)
        return
    sources = [s for s in bundle.sources if s != "main.c"]
    footprint = measure(output_dir, bundle.name, sources, TARGETS[target], bundle.plan.arena_size,
                        bundle.state_size)
    click.echo(f"footprint on the {footprint.summary()}", err=True)
    readme = os.path.join(output_dir, "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    write_atomic(readme, text.rstrip("\n") + "\n\n" + footprint.readme())
