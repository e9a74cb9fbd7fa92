/* graph_ref: serial references for the graph apps' tests
 * (test_graph_apps.sh), written from the textbook definitions and sharing
 * no code with Kiln.
 *
 *   graph_ref pagerank [-u] [-d D] [-n N] [-t TOL] INPUT...  power iteration
 *   graph_ref cc [-u] INPUT...                              union-find
 *   graph_ref bfs [-u] -s S INPUT...                        queue
 *   graph_ref sssp [-u] -s S INPUT...                       Dijkstra (heap)
 *   graph_ref triangles INPUT...                            brute force
 *   graph_ref cmp [-r REL] A B                              compare outputs
 *
 * INPUT: SNAP text edge lists ("src dst [weight]", '#' comments), files or
 * directories of part files. -u adds the reverse of every edge (a
 * self-loop once), as the apps' --undirected does. Results go to stdout as
 * "vertex<TAB>value" lines sorted by vertex (doubles as %.17g), and the
 * summary the app prints to stderr. cmp reads two such outputs (files, or
 * directories of part files; in any order), and fails, naming the first
 * difference, unless they hold the same vertices with equal values: equal
 * text, or with -r numbers within REL relative difference. */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct edge {
    uint64_t u, v;
    double w;
} edge;

static edge *E;
static size_t ne, ecap;

static void die(const char *m)
{
    fprintf(stderr, "graph_ref: %s\n", m);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Call fn on each line of a file, or of each part file of a directory. */
static void each_line(const char *path, void (*fn)(char *line, void *arg), void *arg)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        die(path);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_')
                continue;
            names = realloc(names, (n + 1) * sizeof *names);
            names[n] = xmalloc(strlen(path) + strlen(e->d_name) + 2);
            sprintf(names[n++], "%s/%s", path, e->d_name);
        }
        if (d)
            closedir(d);
        if (n)
            qsort(names, n, sizeof *names, by_name);
        for (size_t i = 0; i < n; i++) {
            each_line(names[i], fn, arg);
            free(names[i]);
        }
        free(names);
        return;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        die(path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        fn(line, arg);
    free(line);
    fclose(f);
}

static void add_edge(char *line, void *arg)
{
    (void)arg;
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
        return;
    unsigned long long u, v;
    double w = 1.0;
    if (sscanf(p, "%llu %llu %lf", &u, &v, &w) < 2)
        die("a malformed line in a test input");
    edge e = {u, v, w};
    if (ne == ecap) {
        ecap = ecap ? 2 * ecap : 1024;
        E = realloc(E, ecap * sizeof *E);
        if (!E)
            die("out of memory");
    }
    E[ne++] = e;
}

static void load(char **paths, int n, int undirected)
{
    for (int i = 0; i < n; i++)
        each_line(paths[i], add_edge, NULL);
    if (undirected) {
        size_t m = ne;
        for (size_t i = 0; i < m; i++) {
            if (E[i].u == E[i].v)
                continue;
            edge r = {E[i].v, E[i].u, E[i].w};
            if (ne == ecap) {
                ecap *= 2;
                E = realloc(E, ecap * sizeof *E);
                if (!E)
                    die("out of memory");
            }
            E[ne++] = r;
        }
    }
}

/* ---- vertices: sorted distinct ids, index by binary search ---- */

static uint64_t *V;
static size_t nv;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void vertices(void)
{
    V = xmalloc(2 * ne * sizeof *V);
    for (size_t i = 0; i < ne; i++) {
        V[2 * i] = E[i].u;
        V[2 * i + 1] = E[i].v;
    }
    qsort(V, 2 * ne, 8, cmp_u64);
    nv = 0;
    for (size_t i = 0; i < 2 * ne; i++)
        if (nv == 0 || V[nv - 1] != V[i])
            V[nv++] = V[i];
}

static size_t idx(uint64_t id)
{
    size_t lo = 0, hi = nv;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (V[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nv && V[lo] == id ? lo : (size_t)-1;
}

/* ---- the algorithms ---- */

static void pagerank(double d, long iterations, double tol)
{
    double *r = xmalloc(nv * 8), *s = xmalloc(nv * 8);
    uint64_t *deg = calloc(nv ? nv : 1, 8);
    for (size_t i = 0; i < ne; i++)
        deg[idx(E[i].u)]++;
    for (size_t i = 0; i < nv; i++)
        r[i] = 1.0 / (double)nv;
    long it = 0;
    double delta = 0;
    while (nv && it < iterations) {
        double dangling = 0;
        for (size_t i = 0; i < nv; i++) {
            s[i] = 0;
            if (!deg[i])
                dangling += r[i];
        }
        for (size_t i = 0; i < ne; i++) {
            size_t u = idx(E[i].u);
            s[idx(E[i].v)] += r[u] / (double)deg[u];
        }
        delta = 0;
        for (size_t i = 0; i < nv; i++) {
            double x = (1 - d) / (double)nv + d * (s[i] + dangling / (double)nv);
            delta += fabs(x - r[i]);
            r[i] = x;
        }
        it++;
        if (delta < tol)
            break;
    }
    for (size_t i = 0; i < nv; i++)
        printf("%llu\t%.17g\n", (unsigned long long)V[i], r[i]);
    fprintf(stderr, "pagerank: vertices=%zu edges=%zu iterations=%ld\n", nv, ne, it);
}

static size_t find_root(size_t *p, size_t x)
{
    while (p[x] != x)
        x = p[x] = p[p[x]];
    return x;
}

static void cc(void)
{
    size_t *p = xmalloc(nv * sizeof *p), *size = calloc(nv ? nv : 1, sizeof *size);
    for (size_t i = 0; i < nv; i++)
        p[i] = i;
    for (size_t i = 0; i < ne; i++) {
        size_t a = find_root(p, idx(E[i].u)), b = find_root(p, idx(E[i].v));
        if (a != b)
            p[a > b ? a : b] = a < b ? a : b; /* the smaller index is the root */
    }
    size_t comps = 0, largest = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t r = find_root(p, i);
        comps += size[r]++ == 0;
        if (size[r] > largest)
            largest = size[r];
        /* the root is the smallest index, so the smallest id */
        printf("%llu\t%llu\n", (unsigned long long)V[i], (unsigned long long)V[r]);
    }
    fprintf(stderr, "cc: components=%zu largest=%zu\n", comps, largest);
}

/* Out-adjacency rows by index. */
static size_t *off;
static size_t *adj;
static double *wt;

static void rows(void)
{
    off = calloc(nv + 2, sizeof *off);
    adj = xmalloc(ne * sizeof *adj);
    wt = xmalloc(ne * sizeof *wt);
    for (size_t i = 0; i < ne; i++)
        off[idx(E[i].u) + 2]++;
    for (size_t i = 2; i < nv + 2; i++)
        off[i] += off[i - 1];
    for (size_t i = 0; i < ne; i++) {
        size_t at = off[idx(E[i].u) + 1]++;
        adj[at] = idx(E[i].v);
        wt[at] = E[i].w;
    }
}

static void bfs(uint64_t s)
{
    size_t src = idx(s);
    if (src == (size_t)-1)
        die("no such source");
    rows();
    uint64_t *level = xmalloc(nv * 8);
    size_t *queue = xmalloc(nv * sizeof *queue), head = 0, tail = 0;
    for (size_t i = 0; i < nv; i++)
        level[i] = UINT64_MAX;
    level[src] = 0;
    queue[tail++] = src;
    uint64_t deepest = 0;
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t e = off[u]; e < off[u + 1]; e++)
            if (level[adj[e]] == UINT64_MAX) {
                level[adj[e]] = level[u] + 1;
                deepest = level[u] + 1;
                queue[tail++] = adj[e];
            }
    }
    for (size_t i = 0; i < nv; i++)
        if (level[i] != UINT64_MAX)
            printf("%llu\t%llu\n", (unsigned long long)V[i], (unsigned long long)level[i]);
    fprintf(stderr, "bfs: source=%llu reached=%zu levels=%llu\n", (unsigned long long)s,
            tail, (unsigned long long)deepest + 1);
}

/* Dijkstra with a binary heap of (distance, vertex), lazy deletion. */
typedef struct item {
    double d;
    size_t v;
} item;

static void sssp(uint64_t s)
{
    size_t src = idx(s);
    if (src == (size_t)-1)
        die("no such source");
    rows();
    double *dist = xmalloc(nv * 8);
    item *heap = xmalloc((ne + 1) * sizeof *heap);
    size_t nh = 0;
    for (size_t i = 0; i < nv; i++)
        dist[i] = INFINITY;
    dist[src] = 0;
    heap[nh++] = (item){0, src};
    size_t reached = 0;
    double far = 0;
    while (nh) {
        item top = heap[0];
        heap[0] = heap[--nh];
        for (size_t i = 0;;) { /* sift down */
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < nh && heap[l].d < heap[m].d)
                m = l;
            if (r < nh && heap[r].d < heap[m].d)
                m = r;
            if (m == i)
                break;
            item t = heap[i];
            heap[i] = heap[m];
            heap[m] = t;
            i = m;
        }
        if (top.d > dist[top.v])
            continue;
        for (size_t e = off[top.v]; e < off[top.v + 1]; e++) {
            double nd = top.d + wt[e];
            if (nd < dist[adj[e]]) {
                dist[adj[e]] = nd;
                size_t i = nh++;
                heap[i] = (item){nd, adj[e]};
                while (i && heap[(i - 1) / 2].d > heap[i].d) { /* sift up */
                    item t = heap[i];
                    heap[i] = heap[(i - 1) / 2];
                    heap[(i - 1) / 2] = t;
                    i = (i - 1) / 2;
                }
            }
        }
    }
    for (size_t i = 0; i < nv; i++)
        if (dist[i] != INFINITY) {
            printf("%llu\t%.17g\n", (unsigned long long)V[i], dist[i]);
            reached++;
            if (dist[i] > far)
                far = dist[i];
        }
    fprintf(stderr, "sssp: source=%llu reached=%zu max=%.17g\n", (unsigned long long)s,
            reached, far);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static bool has(const size_t *row, size_t n, size_t x)
{
    return bsearch(&x, row, n, sizeof x, cmp_size) != NULL;
}

static void triangles(void)
{
    /* Undirected simple neighbour sets, sorted. */
    size_t *o = calloc(nv + 2, sizeof *o), *a = xmalloc(2 * ne * sizeof *a);
    for (size_t i = 0; i < ne; i++)
        if (E[i].u != E[i].v) {
            o[idx(E[i].u) + 2]++;
            o[idx(E[i].v) + 2]++;
        }
    for (size_t i = 2; i < nv + 2; i++)
        o[i] += o[i - 1];
    for (size_t i = 0; i < ne; i++)
        if (E[i].u != E[i].v) {
            size_t u = idx(E[i].u), v = idx(E[i].v);
            a[o[u + 1]++] = v;
            a[o[v + 1]++] = u;
        }
    size_t *len = xmalloc(nv * sizeof *len);
    for (size_t v = 0; v < nv; v++) {
        size_t *row = a + o[v], n = o[v + 1] - o[v], m = 0;
        qsort(row, n, sizeof *row, cmp_size);
        for (size_t i = 0; i < n; i++)
            if (m == 0 || row[m - 1] != row[i])
                row[m++] = row[i];
        len[v] = m;
    }
    uint64_t *count = calloc(nv ? nv : 1, 8), total = 0;
    for (size_t u = 0; u < nv; u++)
        for (size_t i = 0; i < len[u]; i++) {
            size_t v = a[o[u] + i];
            if (v <= u)
                continue;
            for (size_t j = i + 1; j < len[u]; j++) {
                size_t w = a[o[u] + j];
                if (has(a + o[v], len[v], w)) {
                    count[u]++;
                    count[v]++;
                    count[w]++;
                    total++;
                }
            }
        }
    for (size_t i = 0; i < nv; i++)
        printf("%llu\t%llu\n", (unsigned long long)V[i], (unsigned long long)count[i]);
    fprintf(stderr, "triangles: count=%llu\n", (unsigned long long)total);
}

/* ---- cmp ---- */

typedef struct row {
    uint64_t v;
    char *text;
} row;

typedef struct rows_t {
    row *r;
    size_t n, cap;
} rows_t;

static void add_row(char *line, void *arg)
{
    rows_t *t = arg;
    char *tab = strchr(line, '\t');
    if (!tab)
        die("cmp: a line without a tab");
    line[strcspn(line, "\r\n")] = '\0';
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->r = realloc(t->r, t->cap * sizeof *t->r);
    }
    t->r[t->n].v = strtoull(line, NULL, 10);
    t->r[t->n].text = strdup(tab + 1);
    t->n++;
}

static int by_vertex(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

static int cmp_main(int argc, char **argv)
{
    double rel = -1;
    int i = 2;
    if (i + 1 < argc && !strcmp(argv[i], "-r")) {
        rel = atof(argv[i + 1]);
        i += 2;
    }
    if (argc - i != 2)
        die("usage: graph_ref cmp [-r REL] A B");
    rows_t a = {0}, b = {0};
    each_line(argv[i], add_row, &a);
    each_line(argv[i + 1], add_row, &b);
    qsort(a.r, a.n, sizeof *a.r, by_vertex);
    qsort(b.r, b.n, sizeof *b.r, by_vertex);
    if (a.n != b.n) {
        fprintf(stderr, "graph_ref cmp: %s has %zu vertices, %s %zu\n", argv[i], a.n,
                argv[i + 1], b.n);
        return 1;
    }
    for (size_t k = 0; k < a.n; k++) {
        bool same = a.r[k].v == b.r[k].v;
        if (same && rel < 0) {
            same = !strcmp(a.r[k].text, b.r[k].text);
        } else if (same) {
            double x = strtod(a.r[k].text, NULL), y = strtod(b.r[k].text, NULL);
            double scale = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
            same = x == y || fabs(x - y) <= rel * scale;
        }
        if (!same) {
            fprintf(stderr, "graph_ref cmp: %s has %llu\t%s, %s has %llu\t%s\n",
                    argv[i], (unsigned long long)a.r[k].v, a.r[k].text, argv[i + 1],
                    (unsigned long long)b.r[k].v, b.r[k].text);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: graph_ref pagerank|cc|bfs|sssp|triangles|cmp ...");
    const char *mode = argv[1];
    if (!strcmp(mode, "cmp"))
        return cmp_main(argc, argv);
    int undirected = 0, i = 2;
    double d = 0.85, tol = 1e-10;
    long iterations = 100;
    uint64_t source = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-u"))
            undirected = 1;
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            d = atof(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            iterations = atol(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            source = strtoull(argv[++i], NULL, 10);
        else
            die("unknown option");
    }
    if (i >= argc)
        die("no input");
    load(argv + i, argc - i, undirected && strcmp(mode, "triangles") != 0);
    vertices();
    if (!strcmp(mode, "pagerank"))
        pagerank(d, iterations, tol);
    else if (!strcmp(mode, "cc"))
        cc();
    else if (!strcmp(mode, "bfs"))
        bfs(source);
    else if (!strcmp(mode, "sssp"))
        sssp(source);
    else if (!strcmp(mode, "triangles"))
        triangles();
    else
        die("unknown mode");
    return 0;
}
