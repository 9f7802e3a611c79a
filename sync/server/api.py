"""The sync API routes (sync/protocol.py describes the messages)."""

from __future__ import annotations

import json
import re
import zlib
from datetime import date

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from clinic.db.models import Institution, SyncDevice, SyncRecordHead
from clinic.db.types import utcnow
from sync.protocol import (
    API,
    MAX_INT32,
    STREAMS,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    PullPage,
    PushRequest,
    PushResponse,
    ReconcileRequest,
    ReconcileResponse,
)
from sync.server import auth, errors, feed
from sync.server.app import ApiError
from sync.server.receive import BatchError, receive_batch

router = APIRouter()
UNAUTHORISED = "本设备未接入乡镇服务器，或授权已被撤销；请向乡镇卫生院索取接入码后重新接入（liangbing enrol）"
EXCEPTION_HANDLERS = errors.HANDLERS   # create_app installs them: JSON answers for what no route answers
OPENAPI_URL = API + "/openapi.json"     # the machine-readable description (tests fuzz the API from it); no docs UI
# A push is request → records → record → payload → lines → line: six levels. Deeper is not from a clinic,
# and a parser or validator walking it could run out of stack.
MAX_JSON_DEPTH = 32
MAX_CURSOR = MAX_INT32                  # feed positions are an INTEGER column (32 bits on PostgreSQL)
_CURSOR = re.compile(r"[0-9]{1,10}")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")   # NUL and lone surrogates: no database column takes them


def _json(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


async def _body(request: Request) -> object:
    settings = request.app.state.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise ApiError(413, f"请求过大（{int(declared)} 字节，上限 {settings.max_body_bytes} 字节），请分批发送")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            raise ApiError(413, f"请求过大（上限 {settings.max_body_bytes} 字节），请分批发送")
    data = bytes(body)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        unpack = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = unpack.decompress(data, settings.max_json_bytes + 1)
        except zlib.error:
            raise ApiError(400, "请求内容不是有效的 gzip 数据") from None
        if len(data) > settings.max_json_bytes or unpack.unconsumed_tail:
            raise ApiError(413, f"请求解压后过大（上限 {settings.max_json_bytes} 字节），请分批发送")
    try:
        text = data.decode("utf-8")     # strictly: json.loads(bytes) would let encoded surrogates through
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ApiError(400, f"请求内容嵌套过深（上限 {MAX_JSON_DEPTH} 层），不是同步协议的数据") from None
    except ValueError as exc:           # not JSON, not UTF-8, NaN, or a number of thousands of digits
        raise ApiError(400, f"请求内容不是有效的 JSON：{exc}") from None
    _check_tree(value, strings="\\u" in text)
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"不允许 {name}")


def _check_tree(value: object, strings: bool) -> None:
    """Depth of the parsed JSON, without recursion; with `strings` (the body has \\u escapes, the only way
    to write NUL or a lone surrogate in strict UTF-8 JSON) every key and string is checked for them."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise ApiError(400, "请求内容含有空字符（\\u0000）或不成对的代理字符，无法保存；请检查发送方软件")
            continue
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, f"请求内容嵌套过深（上限 {MAX_JSON_DEPTH} 层），不是同步协议的数据")
        if isinstance(item, dict):
            if strings:
                stack.extend((key, depth) for key in item)
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list) or (strings and isinstance(child, str)))


def _parse(model: type[BaseModel], data: object) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "请求"
        raise ApiError(422, f"请求格式不符合同步协议：{where}：{first['msg']}（共 {exc.error_count()} 处）") from None


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _device(request: Request) -> tuple[str, str]:
    token = _token(request)
    with request.app.state.db.session() as s:
        device = auth.device_for_token(s, token)
        if device is None:
            raise ApiError(401, UNAUTHORISED)
        found = device.id, device.institution_code
    request.app.state.limiter.check(found[0])
    return found


async def _retry_on_busy(fn, *args):
    try:
        return await run_in_threadpool(fn, *args)
    except OperationalError:
        raise ApiError(503, "服务器数据库繁忙，请稍后重试", retry_after=2) from None


def _schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its nested models written in place (an OpenAPI request body has no
    $defs of its own)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(value) for value in node] if isinstance(node, list) else node
    return inline(schema)


def _body_doc(model: type[BaseModel]) -> dict:
    """The routes read their bodies themselves (gzip JSON, size limits), so FastAPI cannot see them:
    describe them, for clients and for the schema-driven tests."""
    return {"requestBody": {"required": True, "description": "JSON（可用 Content-Encoding: gzip 压缩）",
                            "content": {"application/json": {"schema": _schema(model)}}}}


def _answers(model: type[BaseModel], *statuses: int) -> dict:
    return {200: {"model": model}, **{status: {"model": ErrorBody} for status in statuses}}


@router.get(API + "/health")
def health() -> dict:
    return {"status": "ok", "server_time": utcnow().isoformat()}


@router.post(API + "/enrol", openapi_extra=_body_doc(EnrolRequest),
             responses=_answers(EnrolResponse, 400, 403, 413, 422, 429))
async def enrol(request: Request) -> JSONResponse:
    request.app.state.limiter.check(f"enrol:{request.client.host if request.client else '?'}")
    data = _parse(EnrolRequest, await _body(request))

    def work():
        with request.app.state.db.session("enrol", write=True) as s:
            try:
                token, device = auth.enrol(s, data.code, data.institution_code, data.device_name)
            except auth.AuthError as exc:
                raise ApiError(403, str(exc)) from None
            inst = device.institution_code
            name = s.get(Institution, inst).name
        return EnrolResponse(token=token, institution_code=inst, institution_name=name, server_time=utcnow())

    return _json(await _retry_on_busy(work))


@router.post(API + "/sync/push", openapi_extra=_body_doc(PushRequest),
             responses=_answers(PushResponse, 400, 401, 409, 413, 422, 429))
async def push(request: Request) -> JSONResponse:
    device_id, _ = await run_in_threadpool(_device, request)
    data = _parse(PushRequest, await _body(request))
    limit = request.app.state.settings.max_batch_records
    if len(data.records) > limit:
        raise ApiError(413, f"一批最多 {limit} 条记录，收到 {len(data.records)} 条，请分批发送")
    try:
        response = await _retry_on_busy(receive_batch, request.app.state.db, device_id, data)
    except BatchError as exc:
        raise ApiError(409, str(exc)) from None
    return _json(response)


def _cursor(cursor: str | None) -> str | None:
    """A feed position as the server gave it out: digits, no larger than a position can be."""
    if cursor in (None, ""):
        return cursor
    if not _CURSOR.fullmatch(cursor) or int(cursor) > MAX_CURSOR:
        raise ApiError(400, f"游标无效：{cursor[:40]!r}（应为服务器上次返回的 cursor，首次拉取不传）")
    return cursor


@router.get(API + "/sync/pull", responses=_answers(PullPage, 400, 401, 422, 429))
async def pull(request: Request,
               stream: str = Query(json_schema_extra={"enum": list(STREAMS)}),
               cursor: str | None = Query(None, json_schema_extra={"pattern": _CURSOR.pattern}),
               limit: int | None = Query(None, ge=1, le=feed.PAGE_MAX)) -> JSONResponse:
    device_id, institution = await run_in_threadpool(_device, request)
    cursor = _cursor(cursor)

    def work():
        with request.app.state.db.session("pull") as s:
            try:
                page = feed.pull_page(s, institution, stream, cursor, limit, date.today())
            except feed.FeedError as exc:
                raise ApiError(400, str(exc)) from None
        with request.app.state.db.session("pull", write=True) as s:
            s.get(SyncDevice, device_id).last_pull_at = utcnow()
        return page

    return _json(await _retry_on_busy(work))


@router.post(API + "/sync/reconcile", openapi_extra=_body_doc(ReconcileRequest),
             responses=_answers(ReconcileResponse, 400, 401, 413, 422, 429))
async def reconcile(request: Request) -> JSONResponse:
    _, institution = await run_in_threadpool(_device, request)
    data = _parse(ReconcileRequest, await _body(request))

    def work():
        held: set[str] = set()
        with request.app.state.db.session("reconcile") as s:
            for start in range(0, len(data.ids), 500):
                held.update(s.scalars(select(SyncRecordHead.record_id).where(
                    SyncRecordHead.record_id.in_(data.ids[start:start + 500]),
                    SyncRecordHead.institution_code == institution)))
        return ReconcileResponse(server_time=utcnow(), missing=[i for i in data.ids if i not in held])

    return _json(await _retry_on_busy(work))
