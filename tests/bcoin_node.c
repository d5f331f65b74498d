#include "bcoin_node.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *why)
{
    fprintf(stderr, "bcoin test node: %s\n", why);
    abort();
}

int bcoin_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

void node_start(node_proc *np)
{
    node_start_script(np, "regtest.js", NULL, NULL);
}

void node_start_script(node_proc *np, const char *script_name, const char *arg1, const char *arg2)
{
    char script[600], port[16];
    snprintf(script, sizeof script, "%s/tests/node/%s", POWKIT_SOURCE_DIR, script_name);
    np->port = bcoin_free_port();
    snprintf(port, sizeof port, "%d", np->port);
    snprintf(np->url, sizeof np->url, "http://127.0.0.1:%d", np->port);
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        die("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[8];
    int n = 0;
    argv[n++] = "node";
    argv[n++] = script;
    if (arg1)
        argv[n++] = (char *)arg1;
    if (arg2)
        argv[n++] = (char *)arg2;
    argv[n++] = port;
    argv[n++] = "powkit-test";
    argv[n] = NULL;
    if (posix_spawnp(&np->pid, "node", &fa, NULL, argv, environ))
        die("node (Node.js) not found");
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    np->in_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[256] = "";
    if (!fgets(line, sizeof line, f) || strncmp(line, "ready", 5) != 0)
        die("the bcoin node did not start (npm install in tests/node)");
    line[strcspn(line, "\n")] = 0;
    snprintf(np->ready, sizeof np->ready, "%s", line + (line[5] ? 6 : 5));
    sscanf(line, "ready %99s", np->addr);
    fclose(f);
}

void node_stop(node_proc *np)
{
    close(np->in_fd); /* the launcher exits when stdin closes */
    kill(np->pid, SIGTERM);
    waitpid(np->pid, NULL, 0);
}

static size_t collect(char *d, size_t s, size_t n, void *ud)
{
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + s * n + 1);
    memcpy(*buf + old, d, s * n);
    (*buf)[old + s * n] = 0;
    return s * n;
}

/* Blocking JSON-RPC for the tests' own checks. */
json_t *call(node_proc *np, const char *method, json_t *params)
{
    json_t *req = json_pack("{s:s, s:o}", "method", method, "params", params);
    char *body = json_dumps(req, JSON_COMPACT), *resp = NULL;
    json_decref(req);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, np->url);
    curl_easy_setopt(c, CURLOPT_USERPWD, "x:powkit-test");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    free(body);
    if (rc != CURLE_OK)
        die(curl_easy_strerror(rc));
    json_t *r = json_loads(resp, 0, NULL);
    free(resp);
    if (!r)
        die("node answer is not JSON");
    json_t *res = json_incref(json_object_get(r, "result"));
    json_decref(r);
    return res;
}

int64_t height_of(node_proc *np)
{
    json_t *r = call(np, "getblockcount", json_array());
    int64_t h = json_integer_value(r);
    json_decref(r);
    return h;
}

