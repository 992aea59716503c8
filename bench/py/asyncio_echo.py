"""An asyncio echo server (protocol/transport API, the fast path of plain
asyncio): every byte comes back. Address from argv (default 127.0.0.1:7000).
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main():
    host, port = (sys.argv[1].rsplit(":", 1) if len(sys.argv) > 1 else ("127.0.0.1", "7000"))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, host, int(port), backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
