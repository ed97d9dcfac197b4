"""An App whose RPC cannot be described in proto3 (a union field)."""

from pydantic import BaseModel

import interlink as il


class Either(BaseModel):
    value: int | str


svc = il.Service("odd")


@svc.rpc
async def pick(req: Either) -> Either:
    return req


app = il.App([svc], port=0, grpc=True)
