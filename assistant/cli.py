"""`recovery`: the command line. Thin: every command calls the Assistant."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from .errors import AssistantError
from .history import read_history_file
from .keys import KeyStore
from .models import ComplaintIn, DraftRequest, HistoryItemIn
from .review import DraftStore
from .service import Assistant
from .settings import REPO_ROOT, get_settings
from .tenancy import DEFAULT_TENANT

app = typer.Typer(help="Recovery assistant: judge complaints, recall customers, draft replies.",
                  no_args_is_help=True)

TextArg = Annotated[str, typer.Argument(help="The complaint text; '-' reads standard input.")]
CustomerOpt = Annotated[str | None, typer.Option("--customer", "-c", help="Customer id.")]
LanguageOpt = Annotated[str | None, typer.Option("--language", "-l", help="ISO 639-1 code.")]
TenantOpt = Annotated[str, typer.Option(
    "--tenant", "-t", help="Whose history and drafts (as an API key of that tenant sees them).")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _assistant(tenant: str) -> Assistant:
    return Assistant(get_settings()).for_tenant(tenant)


@app.command()
def classify(text: TextArg, customer: CustomerOpt = None, language: LanguageOpt = None,
             tenant: TenantOpt = DEFAULT_TENANT) -> None:
    """Severity, effort, recovery potential, category, route, with reasons (JSON)."""
    try:
        complaint = ComplaintIn(text=_text(text), customer_id=customer, language=language)
        typer.echo(_assistant(tenant).classify(complaint).model_dump_json(indent=2))
    except (ValidationError, AssistantError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def draft(
    text: TextArg,
    customer: CustomerOpt = None,
    language: LanguageOpt = None,
    signer: Annotated[str | None, typer.Option(help="Who signs, e.g. 'Tyler, CEO'.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The whole draft as JSON.")] = False,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Draft a reply for review: the text, then the gesture, checks and history used."""
    try:
        request = DraftRequest(
            text=_text(text), customer_id=customer, language=language, signer=signer
        )
        result = _assistant(tenant).draft(request)
    except (ValidationError, AssistantError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
        return
    c = result.classification
    typer.echo(result.reply + "\n")
    typer.echo(f"-- written by {result.engine} ({result.model}); labels by {c.engine} ({c.model})"
               + (f"; fell back: {result.fallback_reason}" if result.fallback_reason else ""))
    typer.echo(f"-- {c.severity.value} severity, {c.effort.value} effort, route {c.route.value}")
    if result.gesture:
        typer.echo(f"-- gesture: {result.gesture.text} ({result.gesture.reason})")
    typer.echo(f"-- history used: {', '.join(result.history_used) or 'none'}")
    failed = [k for k, v in result.checks.items() if not v.passed]
    typer.echo(f"-- checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}")


@app.command()
def ingest(
    file: Annotated[Path | None, typer.Argument(help="JSONL or CSV with customer_id, kind, "
                                                "text, at (and optional id).")] = None,
    customer: CustomerOpt = None,
    kind: Annotated[str | None, typer.Option(help="With --customer: one item's kind.")] = None,
    text: Annotated[str | None, typer.Option(help="With --customer: one item's text.")] = None,
    at: Annotated[str | None, typer.Option(help="With --customer: one item's date.")] = None,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Add customer history from a file, or one item with --customer/--kind/--text/--at."""
    try:
        if file is not None:
            rows = list(read_history_file(file))
        elif customer and kind and text and at:
            rows = [(customer, HistoryItemIn.model_validate(
                {"kind": kind, "text": text, "at": at}))]
        else:
            raise AssistantError("give a FILE, or --customer, --kind, --text and --at")
        assistant = _assistant(tenant)
        by_customer: dict[str, list[HistoryItemIn]] = {}
        for customer_id, item in rows:
            by_customer.setdefault(customer_id, []).append(item)
        for customer_id, items in by_customer.items():
            assistant.add_history(customer_id, items)
    except (ValidationError, AssistantError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"stored {len(rows)} item(s) for {len(by_customer)} customer(s)")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default RECOVERY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default RECOVERY_PORT.")] = None,
    local_model: Annotated[Path | None, typer.Option(
        help="A GGUF model file: start llama.cpp in this process and use it as the LLM engine "
        "(nothing leaves the machine; needs the `local` extra).")] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    if local_model is not None:
        from .llm.local import start_local_server

        try:
            url = start_local_server(local_model, settings.local_model_slots,
                                     settings.local_model_threads)
        except AssistantError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"serving {local_model.name} with llama.cpp at {url} (loopback only)",
                   err=True)
        settings = settings.model_copy(update={
            "engine": "llm", "openai_base_url": url, "openai_api_key": SecretStr("none"),
            "llm_concurrency": settings.local_model_slots})
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


@app.command()
def triage(
    export: Annotated[Path, typer.Argument(help="Closed tickets, CSV or JSONL.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for triage.csv/.jsonl, report.md.")],
    csat_below: Annotated[float, typer.Option(help="Select tickets rated below this, 0-10.")] = 7,
    preset: Annotated[str, typer.Option(
        help="Column names and scale: zendesk, freshdesk, intercom or generic.")] = "generic",
    scale: Annotated[str | None, typer.Option(
        help="Override the rating scale: 0-10, 1-5, good-bad, happy-neutral-unhappy.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column of the ticket id.")] = None,
    text_column: Annotated[str | None, typer.Option(help="Column of the complaint.")] = None,
    customer_column: Annotated[str | None, typer.Option(help="Column of the customer id.")] = None,
    csat_column: Annotated[str | None, typer.Option(help="Column of the rating.")] = None,
    top: Annotated[int | None, typer.Option(
        help="Customers on tonight's list (default RECOVERY_TRIAGE_TOP, 10).")] = None,
    draft: Annotated[str, typer.Option(
        help="Who gets a draft: top (tonight's list), all (every quick win) or none.")] = "top",
    signer: Annotated[str | None, typer.Option(
        help="Who signs the quick-win drafts, e.g. 'Tyler, CEO'.")] = None,
    batch_api: Annotated[bool, typer.Option(
        "--batch-api", help="LLM engine: send the model's work through the OpenAI Batch API "
        "(half price, up to 24 h); stop and rerun at will.")] = False,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Rank closed, low-rated tickets: quick wins first, with drafts for review; resumable."""
    from dataclasses import replace

    from .triage import PRESETS, BatchFailed, Progress, run_triage
    from .triage.rows import sniff

    if preset not in PRESETS:
        raise _fail(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    overrides: dict[str, Any] = {}
    if scale is not None:
        if scale not in {"0-10", "1-5", "good-bad", "happy-neutral-unhappy"}:
            raise _fail("--scale must be 0-10, 1-5, good-bad or happy-neutral-unhappy")
        overrides["scale"] = scale
    for field, column in (("id", id_column), ("text", text_column),
                          ("customer", customer_column), ("csat", csat_column)):
        if column:
            overrides[field] = (column,)
    chosen = replace(PRESETS[preset], **overrides)
    if not export.is_file():
        raise _fail(f"no such export file: {export}")
    if draft not in {"top", "all", "none"}:
        raise _fail(f"--draft must be top, all or none, not {draft!r}")
    if top is not None and top < 1:
        raise _fail("--top must be 1 or more")
    typer.echo(f"triage: {export} ({sniff(export).describe()}) with preset {preset}, rating "
               f"scale {chosen.scale} (mapped to 0-10), selecting below {csat_below:g}",
               err=True)
    try:
        summary = run_triage(_assistant(tenant), export, out, preset=chosen,
                             csat_below=csat_below, signer=signer, progress=Progress(),
                             batch_api=batch_api, log=lambda line: typer.echo(line, err=True),
                             top=top, draft=draft)  # type: ignore[arg-type]
    except (AssistantError, BatchFailed) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{summary.read} tickets read, {summary.selected} rated below {csat_below:g}, "
               f"{summary.quick_wins} quick wins, {summary.tonight} on tonight's list, "
               f"{summary.themes} themes ({summary.systemic} systemic); "
               f"{summary.problems} rows not usable; "
               f"{summary.resumed} resumed from the checkpoint; results in {summary.out}; "
               f"its drafts: triage run {summary.run_label} on the review page")


@app.command()
def migrate(
    to_chroma_url: Annotated[str | None, typer.Option(
        help="Target Chroma server; default RECOVERY_CHROMA_URL.")] = None,
    to_database_url: Annotated[str | None, typer.Option(
        help="Target database (PostgreSQL); default RECOVERY_DATABASE_URL.")] = None,
    chroma_path: Annotated[Path | None, typer.Option(
        help="Source Chroma folder; default $RECOVERY_DATA_DIR/chroma.")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="Source database; default the SQLite file in $RECOVERY_DATA_DIR.")] = None,
) -> None:
    """Move history to a Chroma server and drafts to PostgreSQL; counted, safe to repeat."""
    from .history import open_chroma_client
    from .migrate import migrate_drafts, migrate_history

    settings = get_settings()
    target_chroma = to_chroma_url or settings.chroma_url
    target_db = to_database_url or settings.database_url
    source_db = database_url or f"sqlite:///{settings.data_dir / 'recovery.db'}"
    if not target_chroma and not target_db:
        raise _fail("nothing to move to: give --to-chroma-url and/or --to-database-url "
                    "(or set RECOVERY_CHROMA_URL / RECOVERY_DATABASE_URL)")
    if target_db == source_db:
        raise _fail(f"the source and target database are the same: {source_db}")
    moved = []
    try:
        if target_chroma:
            folder = chroma_path or settings.data_dir / "chroma"
            if not folder.is_dir():
                raise _fail(f"no Chroma folder at {folder} (--chroma-path)")
            embedded = settings.model_copy(update={"chroma_url": None, "chroma_path": folder})
            server = settings.model_copy(update={"chroma_url": target_chroma})
            moved += migrate_history(open_chroma_client(embedded), open_chroma_client(server))
        if target_db:
            moved += migrate_drafts(source_db, target_db, settings.db_timeout_s)
    except AssistantError as exc:
        raise _fail(str(exc)) from exc
    for item in moved:
        mark = "ok" if item.complete else "MISSING"
        typer.echo(f"{mark:7} {item.what}: {item.source} in the source, {item.copied} copied "
                   f"now, {item.in_target} found in the target")
    if not all(item.complete for item in moved):
        raise typer.Exit(code=1)


@app.command("build-model")
def build_model() -> None:
    """Embed our labelled examples and fit the offline model on them, into the package
    (`assistant/model/offline.npz`), so a fresh machine neither embeds nor fits. Run it after
    changing `knowledge/`: the tests fail while the shipped model is out of step."""
    from .classify import SHIPPED

    try:
        classifier = Assistant(get_settings()).shipped_classifier
        classifier.save(SHIPPED)
    except (AssistantError, OSError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{SHIPPED}: {len(classifier.index.examples)} examples, model {classifier.key}")


@app.command()
def learn(
    file: Annotated[Path, typer.Argument(help="Labelled JSONL in the eval format (id, text, "
                                         "language, labels).")],
    tenant: TenantOpt = DEFAULT_TENANT,
    by: Annotated[str, typer.Option(help="Who taught it, for the record.")] = "cli",
) -> None:
    """Teach a tenant's offline model its own labelled complaints: from its next
    classification on, they join our bundled examples (which stay the prior)."""
    from .evals.lines import read_eval_file
    from .language import detect
    from .learning import LearnedLine

    try:
        lines = [LearnedLine(text=line.text, language=line.language or detect(line.text).code,
                             labels=line.labels)
                 for line in read_eval_file(file) if line.labels]
        if not lines:
            raise _fail(f"{file}: no line has labels to learn from")
        assistant = _assistant(tenant)
        learned = assistant.learn(lines, by)
        total = assistant.learned.version()[0]
    except (AssistantError, OSError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"learned {learned} labelled complaints for tenant {tenant} "
               f"({total} in all); its next classification uses them")


@app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(help="Labelled JSONL (see PRODUCT.md).")],
    json_path: Annotated[Path, typer.Option("--json", help="Where to write the metrics.")],
    report_path: Annotated[Path | None, typer.Option(
        "--report", help="Also write a Markdown report with a confusion-matrix PNG.")] = None,
    engine: Annotated[str | None, typer.Option(
        help="offline or llm (default: RECOVERY_ENGINE).")] = None,
    gates_path: Annotated[Path, typer.Option(
        "--gates", help="Thresholds per engine.")] = REPO_ROOT / "evals" / "gates.toml",
    gate: Annotated[bool, typer.Option(help="Exit 1 when a metric is below its gate.")] = True,
    compare_path: Annotated[Path | None, typer.Option(
        "--compare", help="An earlier metrics JSON: print what got better and worse.")] = None,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"],
        help="Judge history windows and gesture cooldowns as of this YYYY-MM-DD (default: "
        "today). Pin it for a set whose histories carry fixed dates.")] = None,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Score the engine on a labelled set (as `tenant`'s model, with what it learned);
    writes the metrics JSON of PRODUCT.md."""
    from .evals import (
        check_gates,
        compare,
        load_gates,
        read_eval_file,
        run_eval,
        write_json,
        write_report,
    )

    settings = get_settings()
    if engine is not None:
        if engine not in {"offline", "llm"}:
            raise _fail(f"--engine must be offline or llm, not {engine!r}")
        settings = settings.model_copy(update={"engine": engine})
    try:
        old = json.loads(compare_path.read_text()) if compare_path else None
        assistant = (Assistant(settings, today=as_of.date) if as_of
                     else Assistant(settings)).for_tenant(tenant)
        report = run_eval(assistant, read_eval_file(file))
        failures = check_gates(report, load_gates(gates_path, assistant.engine)) if gate else []
    except (AssistantError, OSError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from exc
    write_json(report, json_path)
    if report_path:
        write_report(report, report_path, failures if gate else None)
    cost = report["cost"]
    if report["engine"] == "offline":
        typer.echo("engine offline")
    else:
        typer.echo(f"engine {report['engine']}: {cost['fallbacks']} of {report['n']} lines "
                   f"fell back to the offline engine, {cost['calls_per_item']:.1f} model "
                   "calls a line")
    for reason in report["fallback_reasons"]:
        typer.echo(f"  {reason['count']} × {reason['reason']}")
    for label, metrics in report["labels"].items():
        kappa, interval = metrics.get("quadratic_kappa"), metrics.get("quadratic_kappa_ci95")
        extra = f", qwk {kappa:.3f}" if kappa is not None else ""
        extra += f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""
        typer.echo(f"{label}: accuracy {metrics['accuracy']:.3f}{extra} (n={metrics['n']})")
    for label, against in report.get("human_agreement", {}).items():
        if against["ratio"] is not None:
            typer.echo(f"{label}: engine kappa {against['engine_kappa']:.3f} = "
                       f"{against['ratio']:.2f} × the annotators' {against['annotators_kappa']:.3f}"
                       f" (n={against['n']}; per language in the JSON and report)")
    if old is not None:
        typer.echo(f"compared with {compare_path}:")
        for line in compare(old, report) or ["no metric changed"]:
            typer.echo(f"  {line}")
    if failures:
        typer.echo(f"gates failed ({gates_path}):", err=True)
        for failure in failures:
            typer.echo(f"  {failure}", err=True)
        raise typer.Exit(code=1)


keys = typer.Typer(help="API keys: every /v1 request needs one; each belongs to one tenant.",
                   no_args_is_help=True)
app.add_typer(keys, name="keys")


def _key_store() -> KeyStore:
    settings = get_settings()
    return KeyStore(DraftStore(settings.resolved_database_url, settings.db_timeout_s).db)


@keys.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Whose data the key reaches.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'helpdesk'.")] = "",
) -> None:
    """Make a key; it is printed once and only its hash is stored."""
    try:
        record, key = _key_store().create(tenant, name)
    except AssistantError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(key)
    typer.echo(f"-- key {record.id} for tenant {record.tenant}: store it now, it is not shown "
               "again", err=True)


@keys.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
) -> None:
    """Every key: id, tenant, name, made, revoked (never the key itself)."""
    for record in _key_store().list(tenant):
        revoked = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "live"
        typer.echo(f"{record.id}  {record.tenant:20}  {record.created_at:%Y-%m-%d %H:%M}  "
                   f"{revoked:22}  {record.name}")


@keys.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The id from `keys list`.")]) -> None:
    """Revoke a key at once, on every instance that shares the database."""
    try:
        record = _key_store().revoke(key_id)
    except AssistantError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"revoked {record.id} (tenant {record.tenant})")
