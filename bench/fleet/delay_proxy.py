"""A TCP proxy on loopback that delays every byte by half a round trip in each direction.

The benchmark's PostgreSQL runs on loopback, where a round trip costs well under 0.1 ms; a
database on another host costs 0.2-2 ms. Putting this proxy in between shows what a client pays
per round trip at a realistic distance (this machine has no netem). Bytes keep their order:
each direction is a queue released at arrival time + delay. The proxy itself adds some latency
and CPU (Python, one event loop): measure the round trip you get (bench/fleet/run.py prints it)
rather than trusting the nominal figure.

    proxy = DelayProxy(target_port=5432, rtt_ms=1.0).start()   # proxy.port to connect to
"""
import asyncio
import collections
import threading


class _Direction:
    """Bytes read on one side, written to the other once their delay has passed."""

    def __init__(self, loop, delay):
        self.loop = loop
        self.delay = delay
        self.queue = collections.deque()
        self.timer = None
        self.transport = None  # where the bytes go; set once connected
        self.closed = False

    def push(self, data):
        self.queue.append((self.loop.time() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.queue[0][0], self.release)

    def release(self):
        self.timer = None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now and self.transport is not None:
            _, data = self.queue.popleft()
            if data is None:
                self.transport.close()
                self.closed = True
                self.queue.clear()
                return
            self.transport.write(data)
        if self.queue:
            self.timer = self.loop.call_at(max(self.queue[0][0], now + 0.0001), self.release)


class _Side(asyncio.Protocol):
    def __init__(self, outgoing):
        self.outgoing = outgoing  # the _Direction this side's bytes go into

    def data_received(self, data):
        self.outgoing.push(data)

    def eof_received(self):
        self.outgoing.push(None)
        return True

    def connection_lost(self, exc):
        if not self.outgoing.closed:
            self.outgoing.push(None)


class DelayProxy:
    def __init__(self, target_port, rtt_ms, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = rtt_ms / 2000.0
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            self._loop.create_server(self._accept, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def _accept(self):
        return _ClientSide(self._loop, self.delay, self.target)


class _ClientSide(_Side):
    """The accepted connection: opens the one to the server, whose bytes come back delayed."""

    def __init__(self, loop, delay, target):
        super().__init__(_Direction(loop, delay))
        self.loop = loop
        self.target = target
        self.to_client = _Direction(loop, delay)

    def connection_made(self, transport):
        self.to_client.transport = transport
        self.loop.create_task(self.open_upstream(transport))

    async def open_upstream(self, client_transport):
        try:
            transport, _ = await self.loop.create_connection(
                lambda: _Side(self.to_client), *self.target)
        except OSError:
            client_transport.close()
            return
        self.outgoing.transport = transport
        self.outgoing.release()
