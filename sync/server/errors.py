"""How the API answers what no route answers itself: FastAPI's own checks of query and path parameters,
an unknown address or method, and an exception nobody expected. Under /api/ every one is a JSON
`{"error": "..."}` like the routes' own refusals; an unexpected exception is logged with its traceback
on the server and answered 500 with a sentence, never the traceback. Pages keep FastAPI's answers."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException

from sync.protocol import API
from sync.server.app import error_response

log = logging.getLogger("liangbing.server")
WHERE = {"query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie", "body": "请求内容"}


def _on_api(request: Request) -> bool:
    return request.url.path == API or request.url.path.startswith(API + "/")


async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
    if not _on_api(request):
        return await request_validation_exception_handler(request, exc)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": ""}
    loc = [str(part) for part in first.get("loc", ())]
    where = f"{WHERE.get(loc[0], loc[0])} {'.'.join(loc[1:])}".strip() if loc else "请求"
    return error_response(422, f"请求参数有误：{where}：{first.get('msg', '')}（共 {len(errors)} 处）")


async def no_such_address(request: Request, exc: HTTPException) -> Response:
    if not _on_api(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 404:
        message = f"没有这个接口：{request.method} {request.url.path[:200]}"
    elif exc.status_code == 405:
        message = f"接口 {request.url.path[:200]} 不支持 {request.method} 请求"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    if not _on_api(request):
        return PlainTextResponse("服务器内部错误，已记录；请稍后重试", status_code=500)
    return error_response(500, "服务器内部错误，已记录；请稍后重试，如仍出现请联系乡镇卫生院技术人员")


HANDLERS = {RequestValidationError: bad_parameters, HTTPException: no_such_address, Exception: unexpected}
