#!/bin/bash
# Bearer token auth against a real registry: docker-registry configured
# for token auth, a token server of the test's own (token_server.py) that
# signs short-lived JWTs with a key made here, and the registry's redirect
# middleware sending blob downloads to a stand-in CDN on another loopback
# address. Through the mirror: an anonymous pull answers the challenge
# with the right scope and service, an expired token is replaced, the
# configured credentials reach the token server, a wrong password is a
# prompt 401 and not a loop, and the CDN never sees an Authorization.
. "$(dirname "$0")/lib.sh"

need_tools skopeo curl openssl docker-registry

TOKEN_TTL=4
TOKEN_USER=tester
TOKEN_PASS=s3cret-pass
TOKEN_SERVICE=test-registry
TOKEN_LOG=$E2E_TMP/token-requests.log
AUTH=$E2E_TMP/auth

# ------------------------------------------------------------------------
# The token server, the CDN stand-in and the registry

mkdir -p "$AUTH"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test-issuer" \
	-keyout "$AUTH/key.pem" -out "$AUTH/token.crt" \
	>"$E2E_TMP/openssl.log" 2>&1 ||
	fail "openssl could not make the token signing key"

TOKEN_PORT=$(free_port)
BLOB_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT
UPSTREAM_ACCESS=$E2E_TMP/upstream-access.log
mkdir -p "$E2E_TMP/upstream"
: >"$TOKEN_LOG"

spawn TOKEN_PID "$E2E_TMP/token-server.log" "$PYTHON" \
	"$E2E_DIR/token_server.py" --port "$TOKEN_PORT" \
	--key "$AUTH/key.pem" --cert "$AUTH/token.crt" --log "$TOKEN_LOG" \
	--issuer test-issuer --service "$TOKEN_SERVICE" \
	--expires-in "$TOKEN_TTL" --user "$TOKEN_USER" \
	--password "$TOKEN_PASS" --private library/private \
	--blob-addr 127.0.0.2 --blob-port "$BLOB_PORT" \
	--blob-root "$E2E_TMP/upstream" --blob-auth-flag "$E2E_TMP/blob-auth"

cat >"$E2E_TMP/upstream.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $E2E_TMP/upstream
middleware:
  storage:
    - name: redirect
      options:
        baseurl: http://127.0.0.2:$BLOB_PORT/
auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: $TOKEN_SERVICE
    issuer: test-issuer
    rootcertbundle: $AUTH/token.crt
http:
  addr: 127.0.0.1:$UPSTREAM_PORT
  secret: vkdr-e2e-not-a-secret
EOF
spawn UPSTREAM_PID "$E2E_TMP/upstream.log" sh -c \
	'exec docker-registry serve "$1" >"$2"' sh \
	"$E2E_TMP/upstream.yml" "$UPSTREAM_ACCESS"
E2E_LOGS+=("$UPSTREAM_ACCESS" "$TOKEN_LOG")

# The registry is up when /v2/ asks for a token from our realm.
registry_challenges()
{
	local realm=http://127.0.0.1:$TOKEN_PORT/token

	curl -s -o /dev/null -D "$E2E_TMP/v2-headers" --max-time 5 \
		"$UPSTREAM_URL/v2/" &&
		grep -qi "^www-authenticate: Bearer realm=\"$realm\"" \
			"$E2E_TMP/v2-headers"
}
token_server_up()
{
	curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$TOKEN_PORT/" &&
		curl -s -o /dev/null --max-time 5 \
			"http://127.0.0.2:$BLOB_PORT/"
}
wait_until "$E2E_START_DEADLINE" "the token server" token_server_up
wait_until "$E2E_START_DEADLINE" "the registry's Bearer challenge" \
	registry_challenges

# token_lines WORDS... - the token server's log lines that have every one
# of WORDS as a whole word (such as "user=-" or "result=401").
token_lines()
{
	awk -v words="$*" '
		BEGIN { n = split(words, want, " ") }
		$1 != "token" { next }
		{
			for (i = 1; i <= n; i++) {
				found = 0
				for (f = 2; f <= NF; f++)
					if ($f == want[i])
						found = 1
				if (!found)
					next
			}
			print
		}' "$TOKEN_LOG"
}

token_count()
{
	token_lines "$@" | wc -l
}

# token_field KEY LINE - the value of KEY=VALUE in a token server log line.
token_field()
{
	awk -v key="$1" '{
		for (f = 2; f <= NF; f++)
			if (index($f, key "=") == 1)
				print substr($f, length(key) + 2)
	}' <<<"$2"
}

# push_with_creds NAME TAG - push the current image as library/NAME:TAG,
# logging in to the token server like any registry client.
push_with_creds()
{
	skopeo --policy "$(skopeo_policy)" copy --quiet --all \
		--dest-tls-verify=false \
		--dest-creds "$TOKEN_USER:$TOKEN_PASS" \
		"oci:$IMAGE_DIR:$2" \
		"docker://127.0.0.1:$UPSTREAM_PORT/library/$1:$2" ||
		fail "pushing $1:$2 to the registry failed"
}

# Five images: app:v1 and app:v2 (public; v2 has six small layers to GET
# at once), private-a, private-b and private-c (no anonymous pull). IMG_BLOBS holds the digests of each; IMG_FILES those
# of its config and layers, the blobs a pull GETs (and the registry
# redirects), as opposed to the manifest.
declare -A IMG_DIR IMG_BLOBS IMG_FILES
for name in app:v1 app:v2 private-a:v1 private-b:v1 private-c:v1; do
	sizes="1 0.5"
	[ "$name" != app:v2 ] || sizes="0.25 0.25 0.25 0.25 0.25 0.25"
	make_image "${name%:*}" "${name#*:}" $sizes
	push_with_creds "${name%:*}" "${name#*:}"
	IMG_DIR[$name]=$IMAGE_DIR
	IMG_BLOBS[$name]="$IMAGE_MANIFEST $IMAGE_CONFIG $IMAGE_LAYERS"
	IMG_FILES[$name]="$IMAGE_CONFIG $IMAGE_LAYERS"
done
[ "$(token_count "user=$TOKEN_USER" "scope=repository:library/app:pull,push" \
	result=200)" -ge 1 ] ||
	fail "the push did not log in to the token server"

# same_image NAME DIR - DIR holds the pushed bytes of NAME.
same_image()
{
	IMAGE_DIR=${IMG_DIR[$1]}
	same_blobs "$2" ${IMG_BLOBS[$1]}
}

# Without a token the registry refuses even a public image.
http_req "$E2E_TMP/body" "$UPSTREAM_URL/v2/library/app/manifests/v1"
[ "$HTTP_CODE" = 401 ] ||
	fail "the registry answered $HTTP_CODE to a request without a token"

# ------------------------------------------------------------------------
# Anonymous pull through the mirror

start_mirror
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v1" "$E2E_TMP/app1" v1 ||
	fail "anonymous pull of app:v1 through the mirror failed"
same_image app:v1 "$E2E_TMP/app1"
[ "$(token_count "service=$TOKEN_SERVICE" \
	"scope=repository:library/app:pull" user=- result=200)" -ge 1 ] ||
	fail "the token server saw no anonymous request for" \
		"repository:library/app:pull with service $TOKEN_SERVICE"
note "anonymous pull answered the challenge"

# ------------------------------------------------------------------------
# An expired token is replaced

# Once the clock has passed the exp of every token the mirror was given
# for library/app, uncached blobs of the same repository must still come
# back, with a new token. They are asked for all at once: the clients
# wait for one token request instead of each making its own (a second
# one may happen if the new token runs out too, on a slow machine).
last_app_token()
{
	token_lines "scope=repository:library/app:pull" user=- result=200 |
		tail -n 1
}
line=$(last_app_token)
old_exp=$(token_field exp "$line")
old_count=$(token_count "scope=repository:library/app:pull" user=-)
token_expired()
{
	[ "$(date +%s)" -gt "$old_exp" ]
}
wait_until $((TOKEN_TTL + 30)) "the token to expire" token_expired

read -r -a layers <<<"${IMG_FILES[app:v2]#* }"
clients=()
for d in "${layers[@]}"; do
	curl -sS -o "$E2E_TMP/layer-${d#sha256:}" --max-time 60 \
		"$MIRROR_URL/v2/library/app/blobs/$d" &
	clients+=("$!")
done
for i in "${!clients[@]}"; do
	wait "${clients[i]}" ||
		fail "GET of ${layers[i]} after the token expired failed"
	[ "$(file_digest "$E2E_TMP/layer-${layers[i]#sha256:}")" = \
		"${layers[i]}" ] ||
		fail "${layers[i]} came back wrong after the token expired"
done
new_count=$(token_count "scope=repository:library/app:pull" user=-)
[ "$new_count" -gt "$old_count" ] ||
	fail "the mirror did not ask for a new token after expiry"
[ $((new_count - old_count)) -le 2 ] ||
	fail "${#layers[@]} concurrent GETs cost" \
		"$((new_count - old_count)) token requests"
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/app:v2" "$E2E_TMP/app2" v2 ||
	fail "pull of app:v2 after the token expired failed"
same_image app:v2 "$E2E_TMP/app2"
line=$(last_app_token)
new_time=$(token_field time "$line")
new_time=${new_time%%.*}
[ "$new_time" -ge "$old_exp" ] ||
	fail "no token was issued after the old one expired"
note "expired token replaced ($old_count then $new_count token requests)"

# ------------------------------------------------------------------------
# Credentials

SETTINGS=$VKDR_HOME/scripts/.util/configs/mirror-settings.yaml

# set_password PASS - configure the mirror's credentials (the daemon reads
# them when it asks for a token).
set_password()
{
	cat >"$SETTINGS.new" <<-EOF
	mirrors:
	  docker.io:
	    upstream: $UPSTREAM_URL
	    username: $TOKEN_USER
	    password: $1
	EOF
	mv "$SETTINGS.new" "$SETTINGS"
}

manifest_url()
{
	echo "$MIRROR_URL/v2/library/$1/manifests/v1"
}

# Anonymous: the token server gives no access to a private repository, so
# the client gets a 401 registry error.
http_req "$E2E_TMP/body" "$(manifest_url private-b)" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json'
[ "$HTTP_CODE" = 401 ] ||
	fail "a private image without credentials answered $HTTP_CODE"
[ "$(json_error_code "$E2E_TMP/body")" = UNAUTHORIZED ] ||
	fail "a private image without credentials: no UNAUTHORIZED error"

# A wrong password: a prompt 401 with a registry error, and no loop.
set_password wrong-password
bad_before=$(token_count "user=$TOKEN_USER" result=401)
http_req "$E2E_TMP/body" "$(manifest_url private-b)" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json'
[ "$HTTP_RC" != 28 ] || fail "a wrong password made the mirror hang"
[ "$HTTP_CODE" = 401 ] ||
	fail "a wrong password answered $HTTP_CODE, not 401"
[ "$(json_error_code "$E2E_TMP/body")" = UNAUTHORIZED ] ||
	fail "a wrong password: the answer carries no UNAUTHORIZED error"
bad=$(($(token_count "user=$TOKEN_USER" result=401) - bad_before))
[ "$bad" -ge 1 ] || fail "the wrong password never reached the token server"
[ "$bad" -le 2 ] ||
	fail "one request with a wrong password cost $bad token requests"

if skopeo_pull "127.0.0.1:$MIRROR_PORT/library/private-b:v1" \
	"$E2E_TMP/private-b" v1 2>"$E2E_TMP/skopeo-bad.log"; then
	fail "a pull with a wrong password succeeded"
fi
# containerd, as k3s pulls, when it is there and we are root.
use_containerd=
if command -v containerd >/dev/null && [ "$(id -u)" = 0 ]; then
	use_containerd=1
	start_containerd
	if ctr_pull docker.io/library/private-b:v1; then
		fail "containerd pulled with a wrong password"
	fi
	grep -q "401" "$E2E_TMP/ctr-pull.log" ||
		fail "containerd did not get a 401:" \
			"$(tail -n 1 "$E2E_TMP/ctr-pull.log")"
else
	note "containerd part skipped (not installed or not root)"
fi
bad=$(($(token_count "user=$TOKEN_USER" result=401) - bad_before))
[ "$bad" -le 8 ] ||
	fail "a wrong password cost $bad token requests: a retry loop"
note "wrong password: 401 UNAUTHORIZED, $bad token requests"

# The right password: the pull works and the token server saw it.
set_password "$TOKEN_PASS"
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/private-a:v1" \
	"$E2E_TMP/private-a" v1 ||
	fail "pull of a private image with credentials failed"
same_image private-a:v1 "$E2E_TMP/private-a"
[ "$(token_count "user=$TOKEN_USER" \
	"scope=repository:library/private-a:pull" result=200)" -ge 1 ] ||
	fail "the token server never saw the configured credentials"
if [ -n "$use_containerd" ]; then
	ctr_pull docker.io/library/private-b:v1 ||
		fail "containerd could not pull with the right password:" \
			"$(tail -n 1 "$E2E_TMP/ctr-pull.log")"
	for d in ${IMG_BLOBS[private-b:v1]}; do
		ctr_blob "$d" "$E2E_TMP/ctr-blob" ||
			fail "containerd holds no $d"
		cmp -s "$E2E_TMP/ctr-blob" \
			"$(layout_blob "${IMG_DIR[private-b:v1]}" "$d")" ||
			fail "containerd holds other bytes for $d"
	done
fi
for pass in "$TOKEN_PASS" wrong-password; do
	! grep -qF -- "$pass" "$MIRROR_LOG" ||
		fail "the mirror's log shows a configured password"
done
note "configured credentials reached the token server"

# ------------------------------------------------------------------------
# Redirects: the registry sent every blob download to 127.0.0.2

redirected=(app:v1 app:v2 private-a:v1)
[ -z "$use_containerd" ] || redirected+=(private-b:v1)
for name in "${redirected[@]}"; do
	for d in ${IMG_FILES[$name]}; do
		grep -q "^blob method=GET path=[^ ]*/${d#sha256:}/data " \
			"$TOKEN_LOG" ||
			fail "blob $d of $name never came from the redirect host"
	done
done
if grep "^blob " "$TOKEN_LOG" | grep -qv " authorization=no "; then
	fail "a redirected blob request carried an Authorization header"
fi
note "redirected blob downloads carried no credentials"

# Now the redirect target wants a token of its own, from its own realm.
# The mirror must answer that challenge without the registry's
# credentials, and still never show the target the registry's token.
# A blob asked for first, before any token for its repository is held,
# meets two challenges in one request: the registry's, then the target's.
touch "$E2E_TMP/blob-auth"
read -r first _ <<<"${IMG_FILES[private-c:v1]#* }"
http_req "$E2E_TMP/first" "$MIRROR_URL/v2/library/private-c/blobs/$first"
[ "$HTTP_CODE" = 200 ] ||
	fail "a blob behind two challenges answered $HTTP_CODE"
[ "$(file_digest "$E2E_TMP/first")" = "$first" ] ||
	fail "a blob behind two challenges came back wrong"
skopeo_pull "127.0.0.1:$MIRROR_PORT/library/private-c:v1" \
	"$E2E_TMP/private-c" v1 ||
	fail "pull failed when the redirect target asked for its own token"
same_image private-c:v1 "$E2E_TMP/private-c"
[ "$(token_count "user=$TOKEN_USER" \
	"scope=repository:library/private-c:pull" result=200)" -ge 1 ] ||
	fail "the registry's realm did not get the credentials for private-c"
grep -q "^cdntoken .* user=-$" "$TOKEN_LOG" ||
	fail "the mirror never asked the redirect target's realm for a token"
if grep "^cdntoken " "$TOKEN_LOG" | grep -qv " user=-$"; then
	fail "the registry's credentials went to the redirect target's realm"
fi
for d in ${IMG_FILES[private-c:v1]}; do
	served="/${d#sha256:}/data authorization=cdn result=200"
	grep -q "^blob method=GET path=[^ ]*$served" "$TOKEN_LOG" ||
		fail "blob $d never came from the redirect target with its token"
done
if grep "^blob " "$TOKEN_LOG" | grep -q "authorization=other "; then
	fail "the redirect target saw the registry's Authorization"
fi
note "the redirect target's own challenge was answered without credentials"
