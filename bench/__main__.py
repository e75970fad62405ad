"""``python -m bench run|report`` (see bench/README.md)."""

from __future__ import annotations

import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from bench.databases import DbKind, database_for
from bench.report import load_results, render_section, update_readme
from bench.runner import RunOptions, run_and_report
from bench.sizes import SIZES

HttpPosts = Annotated[
    int, typer.Option(min=8, max=100_000, help="HTTP posts, sequential and concurrent each")
]
Clients = Annotated[int, typer.Option(min=1, max=64, help="Concurrent HTTP clients")]

app = typer.Typer(
    help="vpitracker benchmark harness.", no_args_is_help=True, pretty_exceptions_enable=False
)


@app.command()
def run(
    size: Annotated[str, typer.Option(help="Dataset size: S, M or L")] = "S",
    db: Annotated[DbKind, typer.Option(help="sqlite or postgres")] = DbKind.sqlite,
    out: Annotated[
        Path | None, typer.Option(help="Result JSON (default bench/results/<size>-<db>-<utc>.json)")
    ] = None,
    n: Annotated[int, typer.Option(min=1, max=10_000, help="Timed repetitions per read")] = 30,
    warmup: Annotated[int, typer.Option(min=0, max=1_000, help="Warm-up repetitions")] = 3,
    budget: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds per read endpoint after which timing stops (at least 5 samples)"
        ),
    ] = 900.0,
    seed: Annotated[int, typer.Option(help="Seed of the data generator")] = 20261129,
    chain_posts: Annotated[
        int, typer.Option(min=10, max=100_000, help="In-process posts per mode (chain cost)")
    ] = 500,
    http_posts: HttpPosts = 400,
    threads: Clients = 8,
    workers: Annotated[int, typer.Option(min=1, max=16, help="vpitracker serve --workers")] = 1,
    reuse_db: Annotated[
        bool, typer.Option(help="Keep the database of an earlier run (no fresh load)")
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="Time only the read endpoints whose URL matches this regex")
    ] = None,
    memory: Annotated[
        bool, typer.Option(help="Measure server memory under four parallel report streams")
    ] = True,
    memory_only: Annotated[
        str | None,
        typer.Option(help="Only the memory reports whose '<path>?format=<fmt>' matches (regex)"),
    ] = None,
) -> None:
    """Load a fresh database of SIZE and time the API against raw SQL and the audit chain."""
    # A plain `kill` still stops the server subprocess (finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    size = size.upper()
    if size not in SIZES:
        raise typer.BadParameter(f"size must be one of {', '.join(SIZES)}")
    run_and_report(
        RunOptions(
            size=size,
            db=db,
            out=out,
            n=n,
            warmup=warmup,
            budget_s=budget,
            seed=seed,
            chain_posts=chain_posts,
            http_posts=http_posts,
            threads=threads,
            workers=workers,
            reuse_db=reuse_db,
            only=only,
            memory=memory,
            memory_only=memory_only,
        )
    )


@app.command()
def report(
    files: Annotated[list[Path], typer.Argument(help="Result JSON files", exists=True)],
    readme: Annotated[
        Path | None,
        typer.Option(help="Write the section between the results markers of this README"),
    ] = None,
) -> None:
    """Render result files as Markdown (stdout, or into bench/README.md with --readme)."""
    section = render_section(load_results(files))
    if readme is None:
        typer.echo(section)
    else:
        update_readme(readme, section)
        typer.echo(f"updated {readme}")


@app.command("profile")
def profile_request(
    url: Annotated[str, typer.Argument(help="Path and query, e.g. '/v1/commitments?limit=50'")],
    size: Annotated[str, typer.Option(help="Which loaded database: S, M or L")] = "S",
    db: Annotated[DbKind, typer.Option(help="sqlite or postgres")] = DbKind.sqlite,
    n: Annotated[int, typer.Option(min=1, max=10_000, help="Requests profiled")] = 20,
    top: Annotated[int, typer.Option(min=1, max=500, help="Functions listed")] = 40,
    sort: Annotated[str, typer.Option(help="pstats sort key")] = "cumulative",
    match: Annotated[
        str, typer.Option(help="Only functions whose file:name matches (regex; '' for all)")
    ] = "vpitracker",
) -> None:
    """cProfile one GET in-process on the database a `run` left (needs its secretariat)."""
    from bench.profile import profile

    typer.echo(profile(database_for(db, size.upper()), url, n=n, top=top, sort=sort, match=match))


@app.command()
def pages(
    url: Annotated[
        str | None, typer.Option(help="A running vpitracker serve (loopback); or use --size")
    ] = None,
    email: Annotated[str | None, typer.Option(help="An account that may read everything")] = None,
    password: Annotated[str | None, typer.Option(help="Its password")] = None,
    size: Annotated[
        str | None, typer.Option(help="Load this size into a database of its own and serve it")
    ] = None,
    db: Annotated[DbKind, typer.Option(help="With --size: sqlite or postgres")] = DbKind.postgres,
    seed: Annotated[int, typer.Option(help="With --size: seed of the data generator")] = 20261129,
    reuse_db: Annotated[
        bool, typer.Option(help="With --size: time the database an earlier --size run loaded")
    ] = False,
    n: Annotated[int, typer.Option(min=1, max=10_000, help="Timed repetitions")] = 30,
    warmup: Annotated[int, typer.Option(min=0, max=1_000, help="Warm-up repetitions")] = 3,
    baseline: Annotated[
        Path | None,
        typer.Option(help="With --size: a source tree (git archive) served beside, alternating"),
    ] = None,
) -> None:
    """Time the scorecard and a commitment page against the API calls they summarize."""
    from bench.pages import compare, markdown, sized

    if size is not None:
        if size.upper() not in SIZES:
            raise typer.BadParameter(f"size must be one of {', '.join(SIZES)}")
        rows = sized(
            size.upper(), db, seed=seed, n=n, warmup=warmup, reuse_db=reuse_db, baseline=baseline
        )
    elif url and email and password:
        rows = compare(url, email, password, n=n, warmup=warmup)
    else:
        raise typer.BadParameter("give --url, --email and --password, or --size")
    typer.echo(markdown(rows))


@app.command()
def floor(
    size: Annotated[
        str, typer.Option(help="Which loaded database (a `run` left it): S, M or L")
    ] = "M",
    db: Annotated[DbKind, typer.Option(help="sqlite or postgres")] = DbKind.postgres,
    clients: Annotated[int, typer.Option(min=1, max=64, help="Concurrent HTTP clients")] = 8,
    seconds: Annotated[
        float, typer.Option(min=1, help="Seconds of load per server per endpoint")
    ] = 10.0,
    url: Annotated[
        list[str] | None,
        typer.Option(help="Endpoints to compare (default: the list pages and progress)"),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Source tree (src/, migrations/) of the old code, served beside"),
    ] = None,
) -> None:
    """The API against a bare Starlette app running the same captured SQL (framework floor)."""
    from bench.capture import InProcessApp
    from bench.databases import RESULTS_DIR
    from bench.floor import FLOOR_URLS, markdown, measure
    from bench.machine import loadavg
    from bench.runner import TOKEN_MINUTES, _secretariat_id
    from bench.server import new_secret_key, serve, server_env
    from bench.writes import code_env
    from vpitracker.db import make_engine

    target = database_for(db, size.upper())
    engine = make_engine(target.url)
    env = server_env(target.url, new_secret_key())
    env["VPI_ACCESS_TOKEN_EXPIRE_MINUTES"] = TOKEN_MINUTES
    try:
        _secretariat_id(engine, env)
    finally:
        engine.dispose()
    started = loadavg()
    in_process = InProcessApp(target.url, env)
    labels = ["old", "new"] if baseline is not None else ["api"]
    try:
        with ExitStack() as stack:
            servers = [
                stack.enter_context(serve(env, RESULTS_DIR / "floor-api.server.log")),
            ]
            if baseline is not None:
                old_env = code_env(env, baseline.resolve())
                servers.insert(
                    0, stack.enter_context(serve(old_env, RESULTS_DIR / "floor-old.server.log"))
                )
            rows = measure(
                target, in_process,
                [(x, s.url, s.process.pid) for x, s in zip(labels, servers, strict=True)],
                servers[-1].token(),
                urls=tuple(url or FLOOR_URLS),
                clients=clients, seconds=seconds, log_dir=RESULTS_DIR,
            )  # fmt: skip
    finally:
        in_process.close()
    ended = loadavg()
    load = f"{started[0]:.1f} at start, {ended[0]:.1f} at end" if started and ended else "-"
    typer.echo(f"Size {size.upper()} on {db.value} (`{target.name}`).")
    typer.echo(markdown(rows, labels, clients, seconds, load))


@app.command()
def writes(
    size: Annotated[str, typer.Option(help="Which loaded database (a `run` left it)")] = "M",
    db: Annotated[DbKind, typer.Option(help="sqlite or postgres")] = DbKind.postgres,
    workers: Annotated[
        list[int] | None, typer.Option(help="vpitracker serve --workers (repeat the option)")
    ] = None,
    clients: Clients = 16,
    posts: HttpPosts = 400,
    warmup: Annotated[int, typer.Option(min=0, max=1_000, help="Warm-up posts")] = 10,
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Rounds of every measurement")] = 1,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Source tree (src/, migrations/) of the old code, measured alternately"),
    ] = None,
    profile_posts: Annotated[
        int, typer.Option(min=0, help="In-process profiled posts per code (0: none)")
    ] = 100,
) -> None:
    """Status-update posts under concurrency, per worker count (issue 16 item 5)."""
    import json as json_module

    from bench.databases import RESULTS_DIR
    from bench.runner import TOKEN_MINUTES, _facts, _secretariat_id, _verify
    from bench.server import new_secret_key, server_env
    from bench.writes import code_env, markdown, measure_http, run_profile
    from vpitracker.db import make_engine

    target = database_for(db, size.upper())
    env = server_env(target.url, new_secret_key())
    env["VPI_ACCESS_TOKEN_EXPIRE_MINUTES"] = TOKEN_MINUTES
    engine = make_engine(target.url)
    try:
        actor_id = _secretariat_id(engine, env)
        open_ids: list[int] = _facts(engine)["open_commitment_ids"]
    finally:
        engine.dispose()
    codes: list[tuple[str, dict[str, str]]] = [("new", code_env(env, None))]
    if baseline is not None:
        codes.insert(0, ("old", code_env(env, baseline.resolve())))
    rows = []
    profiles = {}
    for label, code in codes if profile_posts else ():
        profiles[label] = run_profile(target, code, actor_id, posts=profile_posts, threads=clients)
    for r in range(rounds):
        # Old and new side by side for each worker count, the first of them alternating.
        for n in workers or [1, 2]:
            for label, code in codes if r % 2 == 0 else codes[::-1]:
                rows.append(
                    measure_http(
                        target, code, open_ids, workers=n, clients=clients, posts=posts,
                        warmup=warmup, label=label,
                    )
                )  # fmt: skip
    verdict = _verify(env)
    out = RESULTS_DIR / f"writes-{size.upper()}-{db.value}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json_module.dumps({"rows": rows, "profiles": profiles, "verify": verdict}, indent=2)
    )
    typer.echo(f"Size {size.upper()} on {db.value} (`{target.name}`), {clients} clients.\n")
    typer.echo(markdown(rows, profiles))
    typer.echo(f"\naudit verify: {json_module.dumps(verdict)}")


@app.command("writes-profile")
def writes_profile(
    url: Annotated[str, typer.Option(help="Database URL")],
    actor: Annotated[int, typer.Option(help="The secretariat's user id")],
    posts: Annotated[int, typer.Option(min=1)] = 100,
    threads: Annotated[int, typer.Option(min=1, max=64)] = 16,
) -> None:
    """In-process profile of status-update posts (JSON on stdout; `writes` runs it)."""
    import json as json_module

    from bench.runner import _facts
    from bench.writes import profile, secretariat_actor
    from vpitracker.db import make_engine

    engine = make_engine(url)
    try:
        open_ids: list[int] = _facts(engine)["open_commitment_ids"]
    finally:
        engine.dispose()
    result = profile(url, secretariat_actor(actor), open_ids, posts=posts, threads=threads)
    typer.echo(json_module.dumps(result))


if __name__ == "__main__":
    app()
