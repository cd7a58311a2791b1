"""The ``segr1`` command: one Typer app. Each command is a thin shell over a library function;
heavy imports happen inside the command so ``segr1 --help`` stays fast."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="segr1",
    help="Seg-R1: train, evaluate and run a VLM that prompts a frozen segmenter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Dataset utilities.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.command()
def demo() -> None:
    """Run the offline demo (synthetic data, tiny policy, GRPO, before/after report)."""
    typer.echo("The end-to-end demo is not built yet; see the README for what it will show.")
    raise typer.Exit(1)


if __name__ == "__main__":
    app()
