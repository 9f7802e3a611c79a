"""The sync API routes (sync/protocol.py describes the messages)."""

from __future__ import annotations

import json
import zlib
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from clinic.db.models import Institution, SyncDevice, SyncRecordHead
from clinic.db.types import utcnow
from sync.protocol import (
    API,
    EnrolRequest,
    EnrolResponse,
    PushRequest,
    ReconcileRequest,
    ReconcileResponse,
)
from sync.server import auth, feed
from sync.server.app import ApiError
from sync.server.receive import BatchError, receive_batch

router = APIRouter()
UNAUTHORISED = "本设备未接入乡镇服务器，或授权已被撤销；请向乡镇卫生院索取接入码后重新接入（liangbing enrol）"


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
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"请求内容不是有效的 JSON：{exc}") from None


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


@router.get(API + "/health")
def health() -> dict:
    return {"status": "ok", "server_time": utcnow().isoformat()}


@router.post(API + "/enrol")
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


@router.post(API + "/sync/push")
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


@router.get(API + "/sync/pull")
async def pull(request: Request, stream: str, cursor: str | None = None, limit: int | None = None) -> JSONResponse:
    device_id, institution = await run_in_threadpool(_device, request)

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


@router.post(API + "/sync/reconcile")
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
