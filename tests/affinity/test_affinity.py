"""Stateful resources over many keys, without a database (docs/affinity.md).

The fake Gemini treats each key as its own project (tests/fake_resources.py): a file,
cache or batch asked for with another key gets Google's 403/404. Each flow is repeated
so that a random key per request would fail: with three keys, 12 rounds pass by chance
with probability (1/3)^12.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from handler.affinity import binding as affinity
from handler.affinity import resources
from handler.keys.credentials import Credentials

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN

KEY_Q = "AQ.Ab8RN6KtestNewStyleAuthKey-qqqqqqqqqqqq4444"  # a new-style auth key
KEYS = (KEY_A, KEY_Q, KEY_C)
ALL = ",".join(KEYS)
ROUNDS = 12
GOOGLE = "https://generativelanguage.googleapis.com/v1beta/"
JS_DIR = Path(__file__).parents[1] / "js"


def upload(proxy: str, data: bytes, creds: dict[str, str], name: str | None = None) -> dict:
    """Google's resumable protocol by hand: a start with a key, then one keyless step."""
    meta: dict = {"file": {"display_name": "notes", "mime_type": "text/plain"}}
    if name:
        meta["file"]["name"] = name
    start = httpx.post(
        proxy + "/upload/v1beta/files",
        json=meta,
        headers={**creds, "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"},
    )
    assert start.status_code == 200, start.text
    url = start.headers["x-goog-upload-url"]
    done = httpx.post(
        url, content=data, headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"}
    )
    assert done.status_code == 200, done.text
    return done.json()["file"]


def generate(proxy: str, parts: list, keys: str = ALL, **extra) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": parts}], **extra}
    return httpx.post(
        proxy + "/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers={"x-goog-api-key": keys}
    )


def owner(fake, kind: str, name: str) -> str:
    return fake.projects.store[kind][name.split("/", 1)[1]][0]


def test_upload_then_generate_uses_the_files_key(proxy, fake):
    for i in range(ROUNDS):
        file = upload(proxy, f"file {i}".encode(), {"x-goog-api-key": ALL})
        (google_name,) = [n for n in fake.projects.store["files"] if file["name"].startswith(f"files/{n}")]
        tag = file["name"][len("files/" + google_name) :]
        assert len(tag) == affinity.TAG_LENGTH and file["uri"] == GOOGLE + "files/" + google_name + tag
        r = generate(proxy, [{"fileData": {"fileUri": file["uri"], "mimeType": "text/plain"}}, {"text": "what is it?"}])
        assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1", r.text
        call = fake.received[-1]
        assert call.key == owner(fake, "files", "files/" + google_name)
        assert (
            call.json["contents"][0]["parts"][0]["fileData"]["fileUri"] == GOOGLE + "files/" + google_name
        )  # Google's name
    # Every upload started on one key and continued without one.
    steps = [r for r in fake.received if r.path == "/upload/v1beta/files"]
    assert all(r.key is None for r in steps if r.query.get("upload_id")) and len(steps) == 2 * ROUNDS
    assert len({owner(fake, "files", "files/" + n) for n in fake.projects.store["files"]}) > 1  # spread over keys
    assert len([r for r in fake.received if "generateContent" in r.path]) == ROUNDS  # never a wrong key first


def test_upload_continuation_needs_no_credential(start_proxy, fake):
    url = start_proxy(GEMINI_API_KEYS=ALL, ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    start = httpx.post(
        url + "/upload/v1beta/files",
        json={"file": {"display_name": "x"}},
        headers={
            "authorization": f"Bearer {TOKEN}",
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
        },
    )
    session = start.headers["x-goog-upload-url"]
    assert session.startswith(url + "/upload/v1beta/files?upload_id=") and "gep_tag=" in session
    # Chunks without a credential (Python SDK) and with another key (JS SDK): both keyless upstream.
    one = httpx.post(session, content=b"abc", headers={"x-goog-upload-command": "upload", "x-goog-upload-offset": "0"})
    two = httpx.post(
        session, content=b"def", headers={"x-goog-upload-command": "upload, finalize", "x-goog-api-key": KEY_B}
    )
    assert one.status_code == 200 and one.headers["x-goog-upload-status"] == "active"
    assert two.status_code == 200 and two.json()["file"]["sizeBytes"] == "6"
    later = [r for r in fake.received if r.query.get("upload_id")]
    assert len(later) == 2 and all(r.key is None and "gep_tag" not in r.query for r in later)
    # The name it answered works with the pool later (the tag came through the upload URL).
    name = two.json()["file"]["name"]
    r = httpx.get(url + "/v1beta/" + name, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["name"] == name
    assert fake.received[-1].key == fake.received[0].key


def test_cache_then_generate_with_it(proxy, fake):
    for _ in range(ROUNDS):
        file = upload(proxy, b"long document", {"x-goog-api-key": ALL})
        r = httpx.post(
            proxy + "/v1beta/cachedContents",
            json={
                "model": "models/gemini-2.5-flash",
                "contents": [{"role": "user", "parts": [{"fileData": {"fileUri": file["uri"]}}]}],
            },
            headers={"x-goog-api-key": ALL},
        )
        assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1", r.text
        cache = r.json()["name"]
        assert fake.received[-1].key == owner(
            fake, "files", fake.received[-1].json["contents"][0]["parts"][0]["fileData"]["fileUri"].split("v1beta/")[1]
        )
        r = generate(proxy, [{"text": "summarise"}], cachedContent=cache)
        assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1", r.text
        sent = fake.received[-1]
        assert sent.key == owner(fake, "cachedContents", sent.json["cachedContent"])
        assert cache.startswith(sent.json["cachedContent"]) and cache != sent.json["cachedContent"]


def test_batch_then_its_status_and_answers_file(proxy, fake):
    for i in range(ROUNDS):
        body = {
            "batch": {
                "display_name": f"b{i}",
                "input_config": {"requests": {"requests": [{"request": {"contents": [{"parts": [{"text": "hi"}]}]}}]}},
            }
        }
        r = httpx.post(
            proxy + "/v1beta/models/gemini-2.5-flash:batchGenerateContent", json=body, headers={"x-goog-api-key": ALL}
        )
        assert r.status_code == 200, r.text
        batch = r.json()["name"]
        assert r.json()["metadata"]["name"] == batch  # every name in the answer is tagged
        status = httpx.get(f"{proxy}/v1beta/{batch}", headers={"x-goog-api-key": ALL})
        assert status.status_code == 200 and status.json()["done"] is True
        answers = status.json()["response"]["responsesFile"]
        assert answers.startswith("files/batch-") and status.json()["metadata"]["output"]["responsesFile"] == answers
        got = httpx.get(f"{proxy}/v1beta/{answers}", headers={"x-goog-api-key": ALL})
        assert got.status_code == 200 and got.json()["name"] == answers
        assert fake.received[-1].key == owner(fake, "batches", fake.received[-2].path.split("/v1beta/")[1])
        lines = httpx.get(
            f"{proxy}/download/v1beta/{answers}:download", params={"alt": "media"}, headers={"x-goog-api-key": ALL}
        )
        assert lines.status_code == 200 and lines.content.startswith(b'{"key": "1"')  # bytes, not rewritten
        assert fake.received[-1].key == fake.received[-2].key and fake.received[-1].path.startswith("/download/")


def test_a_name_made_elsewhere_is_found_by_asking_once(start_proxy, fake):
    url = start_proxy(DISCOVERY="1")  # its own container: a fresh owner cache
    fake.projects.file("madeelsewhere", KEY_C, 3)
    for _ in range(3):
        r = generate(url, [{"fileData": {"fileUri": GOOGLE + "files/madeelsewhere"}}, {"text": "?"}])
        assert r.status_code == 200, r.text
        assert fake.received[-1].key == KEY_C
    lookups = [r for r in fake.received if r.method == "GET"]
    assert {r.path for r in lookups} == {"/v1beta/files/madeelsewhere"}
    assert len(lookups) <= 3 and KEY_C in {r.key for r in lookups}  # asked once (a few keys at once), then cached
    assert [r for r in fake.generate_calls if "generateContent" in r.path][-3:] and all(
        r.key == KEY_C for r in fake.received if "generateContent" in r.path
    )


def test_a_client_named_file_goes_where_rendezvous_looks_first(proxy, fake):
    file = upload(proxy, b"x", {"x-goog-api-key": ALL}, name="files/my-own-name")
    assert owner(fake, "files", "files/my-own-name") == affinity.rendezvous("files/my-own-name", KEYS)[0]
    fake.received.clear()
    r = generate(proxy, [{"fileData": {"fileUri": GOOGLE + "files/my-own-name"}}])
    assert r.status_code == 200 and file["name"].startswith("files/my-own-name")
    lookups = [r for r in fake.received if r.method == "GET"]
    assert lookups and lookups[0].key == owner(fake, "files", "files/my-own-name")  # the first key asked owns it


def test_pool_growth_keeps_names_and_a_departed_key_gets_a_clear_error(start_proxy, fake):
    first = start_proxy(GEMINI_API_KEYS=ALL, ACCESS_TOKENS=TOKEN)
    bearer = {"authorization": f"Bearer {TOKEN}"}
    files = [upload(first, b"data", bearer) for _ in range(6)]
    grown = start_proxy(GEMINI_API_KEYS=f"{KEY_B},{ALL}", ACCESS_TOKENS=TOKEN)
    for file in files:
        r = httpx.get(grown + "/v1beta/" + file["name"], headers=bearer)
        assert r.status_code == 200 and fake.received[-1].key == owner(
            fake, "files", r.json()["name"][: -affinity.TAG_LENGTH]
        )
    lost = files[0]
    gone = owner(fake, "files", lost["name"][: -affinity.TAG_LENGTH])
    shrunk = start_proxy(GEMINI_API_KEYS=",".join(k for k in KEYS if k != gone), ACCESS_TOKENS=TOKEN)
    fake.received.clear()
    r = httpx.post(
        shrunk + "/v1beta/models/gemini-2.5-flash:generateContent",
        headers=bearer,
        json={"contents": [{"parts": [{"fileData": {"fileUri": lost["uri"]}}]}]},
    )
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    assert "another key's project" in r.json()["error"]["message"]
    assert not [x for x in fake.received if "generateContent" in x.path]  # never sent with a wrong key


def test_tags_are_the_same_everywhere_and_reveal_nothing(start_proxy, proxy, fake):
    other = start_proxy(LOG_LEVEL="WARNING")  # another container
    tags = {affinity.tag(k) for k in KEYS}
    assert len(tags) == 3 and all(t.isalnum() and t.islower() for t in tags)
    assert not any(t in k or k[-4:] in t for t in tags for k in KEYS)
    file = upload(proxy, b"abc", {"x-goog-api-key": ALL})
    for url in (proxy, other) * 3:
        r = httpx.get(url + "/v1beta/" + file["name"], headers={"x-goog-api-key": ALL})
        assert r.status_code == 200 and r.json()["name"] == file["name"]
    assert len({r.key for r in fake.received if r.method == "GET"}) == 1
    assert not any(k in json.dumps(file) for k in KEYS)


def test_a_tag_cannot_reach_a_key_the_caller_may_not_use(proxy, fake):
    """A name tagged for KEY_A, sent by a caller who has only KEY_B: never sent with KEY_A."""
    file = upload(proxy, b"secret", {"x-goog-api-key": KEY_A})
    assert file["name"].endswith(affinity.tag(KEY_A))
    fake.received.clear()
    r = httpx.get(proxy + "/v1beta/" + file["name"], headers={"x-goog-api-key": f"{KEY_B},{KEY_C}"})
    assert r.status_code == 404
    assert {x.key for x in fake.received} <= {KEY_B, KEY_C}


def test_resources_of_two_keys_in_one_call_are_refused(proxy, fake):
    one = upload(proxy, b"1", {"x-goog-api-key": KEY_A})
    two = upload(proxy, b"2", {"x-goog-api-key": KEY_C})
    fake.received.clear()
    r = generate(proxy, [{"fileData": {"fileUri": one["uri"]}}, {"fileData": {"fileUri": two["uri"]}}])
    assert r.status_code == 400 and "different keys" in r.json()["error"]["message"]
    assert fake.received == []


def test_names_of_every_kind_are_tagged_and_stripped():
    key = KEY_Q
    answer = json.dumps(
        {
            "name": "models/veo-3.0-generate-001/operations/op1",
            "store": "fileSearchStores/store-1",
            "doc": "fileSearchStores/store-1/documents/d1",
            "model": "tunedModels/my-model",
            "uri": GOOGLE + "files/f1",
            "text": "a model that talks about files/f1 in prose",
        }
    ).encode()
    tagged = resources.tag_answer(answer, affinity.tag(key), interactions=False)
    t = affinity.tag(key)
    assert json.loads(tagged) == {
        "name": f"models/veo-3.0-generate-001/operations/op1{t}",
        "store": f"fileSearchStores/store-1{t}",
        "doc": f"fileSearchStores/store-1{t}/documents/d1",
        "model": f"tunedModels/my-model{t}",
        "uri": GOOGLE + f"files/f1{t}",
        "text": "a model that talks about files/f1 in prose",
    }
    tags = affinity.tags_of(KEYS)
    assert affinity.strip_path(f"/v1beta/models/veo/operations/op1{t}", tags) == "/v1beta/models/veo/operations/op1"
    assert affinity.strip_path(f"/v1beta/interactions/v1_Abc{t}/cancel", tags) == "/v1beta/interactions/v1_Abc/cancel"
    assert affinity.key_for(f"fileSearchStores/store-1{t}", Credentials(KEYS)) == key
    assert affinity.key_for("files/f1", Credentials(KEYS)) is None


def test_a_prompt_that_mentions_files_is_not_a_file(proxy, fake):
    r = generate(proxy, [{"text": "look in my files/notes folder"}])
    assert r.status_code == 200 and len(fake.received) == 1


def test_openai_chat_file_id_goes_to_the_files_key(proxy, fake):
    client = openai.OpenAI(base_url=proxy + "/v1", api_key=ALL)
    for _ in range(ROUNDS):
        file = upload(proxy, b"pdf", {"x-goog-api-key": ALL})
        answer = client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "read"}, {"type": "file", "file": {"file_id": file["name"]}}],
                }
            ],
        )
        assert answer.choices[0].message.content == "echo: read"
        sent = fake.received[-1]
        uri = sent.json["contents"][0]["parts"][1]["fileData"]["fileUri"]
        assert sent.key == owner(fake, "files", uri.split("v1beta/")[1]) and file["name"].startswith(
            uri.split("v1beta/")[1]
        )
    assert len([r for r in fake.received if "generateContent" in r.path]) == ROUNDS  # never a wrong key first


def test_python_sdk_files_and_caches(proxy, fake):
    client = genai.Client(api_key=ALL, http_options=types.HttpOptions(base_url=proxy))
    for i in range(6):
        file = client.files.upload(file=io.BytesIO(f"doc {i}".encode()), config={"mime_type": "text/plain"})
        assert client.files.get(name=file.name).name == file.name
        answer = client.models.generate_content(model="gemini-2.5-flash", contents=[file, "what is it?"])
        assert answer.text == "echo: what is it?"
        cache = client.caches.create(model="gemini-2.5-flash", config={"contents": [file]})
        answer = client.models.generate_content(
            model="gemini-2.5-flash", contents="hi", config={"cached_content": cache.name}
        )
        assert answer.text == "echo: hi"
        ident = file.name.removeprefix("files/")[: -affinity.TAG_LENGTH]
        used = {r.key for r in fake.received if ident in r.path or ident.encode() in r.body}
        assert used in ({owner(fake, "files", "files/" + ident)}, {owner(fake, "files", "files/" + ident), None})
        fake.received.clear()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_sdk_chunked_upload_files_caches_interactions(proxy, fake):
    if not any((d / "node_modules" / "@google" / "genai").is_dir() for d in (JS_DIR, JS_DIR.parent.parent)):
        pytest.skip("the JS SDK is not installed: run `npm ci --prefix tests/js` once (tests use no network)")
    env = {**os.environ, "PROXY_URL": proxy, "GEMINI_KEYS": ALL, "UPLOAD_BYTES": str(17 * 1024 * 1024)}
    run = subprocess.run(
        ["node", "affinity_client.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["size"] == str(17 * 1024 * 1024) and out["got"] == out["file"]
    assert out["answers"] == [f"echo: question {i}" for i in range(3)] and out["cached"] == "echo: hi"
    steps = [r for r in fake.received if r.path.startswith("/upload/")]
    assert len(steps) == 4  # the start and three chunks of at most 8 MB
    assert steps[0].key in KEYS and all(r.key is None for r in steps[1:])
    file_key = steps[0].key
    assert all(
        r.key == file_key for r in fake.received if not r.path.startswith("/upload/") and "/interactions" not in r.path
    )
    talk = out["interactions"]
    assert talk["previous"] == talk["first"] and talk["polled"] == "completed"
    assert talk["events"][0] == "interaction.created" and talk["events"][-1] == "interaction.completed"
    assert len({r.key for r in fake.received if "/interactions" in r.path}) == 1


def test_lookups_are_bounded(proxy, fake):
    parts = [{"fileData": {"fileUri": f"{GOOGLE}files/unknown{i}"}} for i in range(affinity.MAX_UNKNOWN + 1)]
    r = generate(proxy, parts)
    assert r.status_code == 400 and "at most" in r.json()["error"]["message"]
    assert fake.received == []


def test_a_list_joins_every_keys_project_page_by_page(proxy, fake):
    made = {upload(proxy, b"x", {"x-goog-api-key": ALL})["name"] for _ in range(9)}
    assert len({owner(fake, "files", n[: -affinity.TAG_LENGTH]) for n in made}) > 1
    fake.received.clear()
    seen, token, pages = [], None, 0
    while True:
        r = httpx.get(
            proxy + "/v1beta/files",
            params={"pageSize": 2, **({"pageToken": token} if token else {})},
            headers={"x-goog-api-key": ALL},
        )
        assert r.status_code == 200, r.text
        seen += [f["name"] for f in r.json().get("files", [])]
        pages += 1
        token = r.json().get("nextPageToken")
        if not token:
            break
        raw = base64.urlsafe_b64decode(token.removeprefix("gep.") + "==")
        assert not any(k.encode() in raw for k in KEYS)  # each key's page token, by tag: no key
    assert sorted(seen) == sorted(made) and pages >= 2
    assert all(r.query.get("pageSize") == "2" for r in fake.received)
    client = genai.Client(api_key=ALL, http_options=types.HttpOptions(base_url=proxy))
    assert sorted(f.name for f in client.files.list(config={"page_size": 2})) == sorted(made)


def test_a_missing_resource_does_not_cool_its_key(cooldown, proxy, fake):
    file = upload(proxy, b"x", {"x-goog-api-key": ALL})
    files = fake.projects.store["files"]
    for ident, (_, resource) in list(files.items()):
        files[ident] = ("AIzaSy-a-key-of-another-project-0000000", resource)  # gone from the key's project
    fake.received.clear()
    r = generate(proxy, [{"fileData": {"fileUri": file["uri"]}}])
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    assert len(fake.received) == 1  # no other key tried: no other project has it
    assert cooldown.snapshot() == []  # and the key is fine for everything else


def test_a_page_token_reaches_only_the_callers_keys(proxy, fake):
    forged = "gep." + base64.urlsafe_b64encode(json.dumps({affinity.tag(KEY_B): "0"}).encode()).decode().rstrip("=")
    r = httpx.get(proxy + "/v1beta/files", params={"pageToken": forged}, headers={"x-goog-api-key": ALL})
    assert r.status_code == 200 and r.json() == {} and fake.received == []  # KEY_B is not the caller's
