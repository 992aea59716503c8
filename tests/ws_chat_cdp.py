"""Drives two headless Chromium pages of examples/ws_chat.rs through the
DevTools protocol: page a joins, then page b; a's text must appear in b.
Usage: ws_chat_cdp.py BASE_URL PROFILE_DIR; prints what page b shows."""
import json, re, subprocess, sys
from websockets.sync.client import connect

base, profile = sys.argv[1], sys.argv[2]
chrome = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
     "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
    stderr=subprocess.PIPE, text=True)
try:
    for line in chrome.stderr:
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            break
    with connect(found.group(1), max_size=None, open_timeout=10) as cdp:
        ids = iter(range(1, 1_000_000))

        def call(method, session=None, **params):
            n = next(ids)
            message = {"id": n, "method": method, "params": params}
            if session:
                message["sessionId"] = session
            cdp.send(json.dumps(message))
            while True:  # events of other calls come in between
                reply = json.loads(cdp.recv(timeout=10))
                if reply.get("id") == n:
                    return reply

        def page(url):
            target = call("Target.createTarget", url=url)["result"]["targetId"]
            return call("Target.attachToTarget", targetId=target, flatten=True)["result"]["sessionId"]

        def wait_for(session, condition):
            # The browser waits (a promise), not this script.
            js = ("new Promise(done => { const check = () => { try { const v = (%s);"
                  " if (v) return done(String(v)); } catch (e) {} setTimeout(check, 20); };"
                  " check(); })") % condition
            for _ in range(100):  # the first context is about:blank's, destroyed by the load
                reply = call("Runtime.evaluate", session, expression=js, awaitPromise=True,
                             returnByValue=True)
                if "destroyed" not in reply.get("error", {}).get("message", ""):
                    break
            assert "error" not in reply, reply
            return reply["result"]["result"]["value"]

        a = page(f"{base}/?say=hello-from-a")
        wait_for(a, "ws.readyState === 1")
        b = page(f"{base}/")
        print(wait_for(b, "document.getElementById('log').innerText.includes('hello-from-a')"
                          " && document.getElementById('log').innerText"))
finally:
    chrome.kill()
