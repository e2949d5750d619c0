/* Compiled fast path for `syndicate audit verify` and checkpoints.
 *
 * Everything here has a pure-Python equivalent in syndicate/audit/log.py and merkle.py,
 * which stay the definition; tests check both give identical bytes. This module only
 * makes the per-event work cheap:
 *
 *   sqlite_leaves(path, log, after, upto, limit) -> (hashes, positions, odd)
 *       (`path` as bytes, os.fsencode)
 *       Reads stored_events rows with rowid in (after, upto] from the SQLite file at
 *       `path` (read-only), builds each row's leaf data exactly as log.leaf_data does,
 *       and returns the RFC 6962 leaf hashes (32 bytes each, concatenated), the rows'
 *       positions (native int64 each, concatenated) and `odd`: 0, or the position of
 *       the next row, which this code does not encode (an id that is not 32 ASCII
 *       characters, a topic that is not UTF-8, a column of an unexpected type) and the
 *       caller must read itself. At most `limit` rows per call. The GIL is released
 *       while reading and hashing, so two calls run on two cores.
 *   leaf_hashes(datas) -> bytes       SHA-256(0x00 || data) of each bytes object.
 *   parent_level(level) -> bytes      SHA-256(0x01 || left || right) of adjacent pairs.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10100000L
#include <Python.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HASH 32

/* OpenSSL 3's one-shot SHA256() looks up a provider on every call, which costs several
 * times the hash itself on short inputs; the low-level calls do not. */
static void sha256(const unsigned char *data, size_t n, unsigned char *digest) {
    SHA256_CTX context;
    SHA256_Init(&context);
    SHA256_Update(&context, data, n);
    SHA256_Final(digest, &context);
}

typedef struct {
    unsigned char *data;
    size_t len;
    size_t cap;
} buffer;

static int reserve(buffer *b, size_t more) {
    if (b->len + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    unsigned char *grown = realloc(b->data, cap);
    if (!grown) return 0;
    b->data = grown;
    b->cap = cap;
    return 1;
}

static void put(buffer *b, const char *s, size_t n) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Strict UTF-8, as Python's decoder accepts it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0xE1 && c <= 0xEF && c != 0xED) { /* most CJK: no extra range rule */
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return 0;
            i += 3;
            continue;
        }
        if (c < 0x80) {
            i++;
            while (i + 8 <= n) { /* then eight ASCII bytes at a time */
                uint64_t word;
                memcpy(&word, s + i, 8);
                if (word & UINT64_C(0x8080808080808080)) break;
                i += 8;
            }
            continue;
        }
        if (c < 0xC2) return 0;
        if (c < 0xE0) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
            continue;
        }
        if (c < 0xF0) { /* E0 and ED */
            if (i + 2 >= n) return 0;
            unsigned char c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && c1 < 0xA0) return 0;
            if (c == 0xED && c1 >= 0xA0) return 0;
            i += 3;
            continue;
        }
        if (c < 0xF5) {
            if (i + 3 >= n) return 0;
            unsigned char c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return 0;
            if (c == 0xF0 && c1 < 0x90) return 0;
            if (c == 0xF4 && c1 >= 0x90) return 0;
            i += 4;
            continue;
        }
        return 0;
    }
    return 1;
}

/* Bytes a JSON string literal must escape: control characters, '"' and '\\'. */
static unsigned char needs_escape[256];

static void init_escapes(void) {
    for (int c = 0; c < 0x20; c++) needs_escape[c] = 1;
    needs_escape['"'] = 1;
    needs_escape['\\'] = 1;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SCAN_WORDS 1
/* Of eight bytes loaded little-endian, marks (0x80) the bytes below 0x20 and the '"'
 * and '\\' bytes. The lowest mark is exact (a borrow only runs upwards from a byte
 * that is marked rightly), which is all the caller uses. */
static inline uint64_t escape_marks(uint64_t v) {
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t highs = UINT64_C(0x8080808080808080);
    uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
    return (((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) |
            ((backslash - ones) & ~backslash)) &
           highs;
}
#endif

/* A JSON string literal of valid UTF-8 text, escaped as Python's
 * json.encoder.encode_basestring does (non-ASCII kept as is). */
static int put_string(buffer *b, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!reserve(b, n * 6 + 2)) return 0;
    unsigned char *out = b->data + b->len;
    *out++ = '"';
    size_t i = 0;
    while (i < n) {
#ifdef SCAN_WORDS
        if (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            uint64_t marks = escape_marks(word);
            if (!marks) {
                memcpy(out, s + i, 8);
                out += 8;
                i += 8;
                continue;
            }
            /* Copy all eight (room is reserved), keep those before the mark. */
            size_t clean = (size_t)__builtin_ctzll(marks) >> 3;
            memcpy(out, s + i, 8);
            out += clean;
            i += clean;
        } else
#endif
        if (!needs_escape[s[i]]) {
            *out++ = s[i++];
            continue;
        }
        unsigned char c = s[i++];
        *out++ = '\\';
        if (c == '"') { /* by far the most common in stored JSON */
            *out++ = '"';
            continue;
        }
        switch (c) {
            case '"': *out++ = '"'; break;
            case '\\': *out++ = '\\'; break;
            case '\b': *out++ = 'b'; break;
            case '\f': *out++ = 'f'; break;
            case '\n': *out++ = 'n'; break;
            case '\r': *out++ = 'r'; break;
            case '\t': *out++ = 't'; break;
            default:
                *out++ = 'u';
                *out++ = '0';
                *out++ = '0';
                *out++ = hex[c >> 4];
                *out++ = hex[c & 0xF];
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
    return 1;
}

/* A JSON string of the standard base64 of `n` bytes, with '=' padding. */
static int put_base64(buffer *b, const unsigned char *s, size_t n) {
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!reserve(b, (n + 2) / 3 * 4 + 2)) return 0;
    unsigned char *out = b->data + b->len;
    *out++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *out++ = (unsigned char)digits[v >> 18];
        *out++ = (unsigned char)digits[(v >> 12) & 63];
        *out++ = (unsigned char)digits[(v >> 6) & 63];
        *out++ = (unsigned char)digits[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *out++ = (unsigned char)digits[v >> 18];
        *out++ = (unsigned char)digits[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *out++ = (unsigned char)digits[v >> 18];
        *out++ = (unsigned char)digits[(v >> 12) & 63];
        *out++ = (unsigned char)digits[(v >> 6) & 63];
        *out++ = '=';
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
    return 1;
}

static int put_literal(buffer *b, const char *s) {
    size_t n = strlen(s);
    if (!reserve(b, n)) return 0;
    put(b, s, n);
    return 1;
}

static int put_int(buffer *b, long long value) {
    char text[24];
    char *end = text + sizeof text, *start = end;
    unsigned long long magnitude =
        value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        *--start = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0) *--start = '-';
    if (!reserve(b, (size_t)(end - start))) return 0;
    put(b, start, (size_t)(end - start));
    return 1;
}

/* 1: the row's leaf data is in `b` (after a leading 0x00); 0: odd row; -1: no memory. */
static int encode_row(buffer *b, sqlite3_stmt *stmt, const unsigned char *log,
                      size_t log_len) {
    if (sqlite3_column_type(stmt, 1) != SQLITE_TEXT ||
        sqlite3_column_type(stmt, 2) != SQLITE_INTEGER ||
        sqlite3_column_type(stmt, 3) != SQLITE_TEXT ||
        sqlite3_column_type(stmt, 4) != SQLITE_BLOB)
        return 0;
    const unsigned char *id = sqlite3_column_text(stmt, 1);
    size_t id_len = (size_t)sqlite3_column_bytes(stmt, 1);
    if (id_len != 32) return 0;
    for (size_t i = 0; i < 32; i++)
        if (id[i] >= 0x80) return 0;
    const unsigned char *topic = sqlite3_column_text(stmt, 3);
    size_t topic_len = (size_t)sqlite3_column_bytes(stmt, 3);
    const unsigned char *state = sqlite3_column_blob(stmt, 4);
    size_t state_len = (size_t)sqlite3_column_bytes(stmt, 4);
    if (!state) state = (const unsigned char *)"";
    if (!valid_utf8(topic, topic_len)) return 0;
    int text = valid_utf8(state, state_len);

    unsigned char uuid[36];
    memcpy(uuid, id, 8);
    uuid[8] = '-';
    memcpy(uuid + 9, id + 8, 4);
    uuid[13] = '-';
    memcpy(uuid + 14, id + 12, 4);
    uuid[18] = '-';
    memcpy(uuid + 19, id + 16, 4);
    uuid[23] = '-';
    memcpy(uuid + 24, id + 20, 12);

    b->len = 0;
    if (!reserve(b, 1)) return -1;
    b->data[b->len++] = 0x00;
    if (!put_literal(b, "{\"log\":") || !put_string(b, log, log_len) ||
        !put_literal(b, ",\"originator_id\":") || !put_string(b, uuid, 36) ||
        !put_literal(b, ",\"originator_version\":") ||
        !put_int(b, sqlite3_column_int64(stmt, 2)) ||
        !put_literal(b, ",\"position\":") ||
        !put_int(b, sqlite3_column_int64(stmt, 0)) ||
        !(text ? put_literal(b, ",\"state\":") && put_string(b, state, state_len)
               : put_literal(b, ",\"state_base64\":") &&
                     put_base64(b, state, state_len)) ||
        !put_literal(b, ",\"topic\":") || !put_string(b, topic, topic_len) ||
        !put_literal(b, "}"))
        return -1;
    return 1;
}

static PyObject *sqlite_leaves(PyObject *self, PyObject *args) {
    (void)self;
    const char *path;
    Py_ssize_t path_len;
    const char *log;
    Py_ssize_t log_len;
    long long after, upto, limit;
    if (!PyArg_ParseTuple(args, "y#s#LLL", &path, &path_len, &log, &log_len, &after,
                          &upto, &limit))
        return NULL;
    if (strlen(path) != (size_t)path_len) {
        PyErr_SetString(PyExc_ValueError, "path: embedded NUL byte");
        return NULL;
    }
    if (limit < 1) {
        PyErr_SetString(PyExc_ValueError, "limit must be at least 1");
        return NULL;
    }
    buffer hashes = {0}, positions = {0}, leaf = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long odd = 0;
    int rc, failed = 0;
    char message[512] = "";

    Py_BEGIN_ALLOW_THREADS
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) /* map the file: fewer copies than read() (best effort) */
        sqlite3_exec(db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db,
            "SELECT rowid, originator_id, originator_version, topic, state "
            "FROM stored_events WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid "
            "LIMIT ?3",
            -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, after);
        sqlite3_bind_int64(stmt, 2, upto);
        sqlite3_bind_int64(stmt, 3, limit);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            int encoded = encode_row(&leaf, stmt, (const unsigned char *)log,
                                     (size_t)log_len);
            if (encoded == 0) {
                odd = sqlite3_column_int64(stmt, 0);
                rc = SQLITE_DONE;
                break;
            }
            if (encoded < 0 || !reserve(&hashes, HASH) ||
                !reserve(&positions, sizeof(int64_t))) {
                failed = 1;
                break;
            }
            sha256(leaf.data, leaf.len, hashes.data + hashes.len);
            hashes.len += HASH;
            int64_t position = sqlite3_column_int64(stmt, 0);
            memcpy(positions.data + positions.len, &position, sizeof position);
            positions.len += sizeof position;
        }
    }
    if (!failed && rc != SQLITE_DONE)
        snprintf(message, sizeof message, "%s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    Py_END_ALLOW_THREADS

    PyObject *result = NULL;
    if (failed)
        PyErr_NoMemory();
    else if (message[0])
        PyErr_SetString(PyExc_OSError, message);
    else
        result = Py_BuildValue("y#y#L", hashes.data ? (char *)hashes.data : "",
                               (Py_ssize_t)hashes.len,
                               positions.data ? (char *)positions.data : "",
                               (Py_ssize_t)positions.len, odd);
    free(hashes.data);
    free(positions.data);
    free(leaf.data);
    return result;
}

static PyObject *leaf_hashes(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "leaf_hashes needs a sequence of bytes");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * HASH);
    buffer leaf = {0};
    if (!out) goto fail;
    unsigned char *dest = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        char *data;
        Py_ssize_t len;
        if (PyBytes_AsStringAndSize(item, &data, &len) < 0) goto fail;
        leaf.len = 0;
        if (!reserve(&leaf, (size_t)len + 1)) {
            PyErr_NoMemory();
            goto fail;
        }
        leaf.data[0] = 0x00;
        memcpy(leaf.data + 1, data, (size_t)len);
        sha256(leaf.data, (size_t)len + 1, dest + i * HASH);
    }
    free(leaf.data);
    Py_DECREF(seq);
    return out;
fail:
    free(leaf.data);
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *parent_level(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer level;
    if (PyObject_GetBuffer(arg, &level, PyBUF_SIMPLE) < 0) return NULL;
    if (level.len % HASH) {
        PyBuffer_Release(&level);
        PyErr_SetString(PyExc_ValueError, "a level is a whole number of 32-byte hashes");
        return NULL;
    }
    Py_ssize_t pairs = level.len / HASH / 2;
    PyObject *out = PyBytes_FromStringAndSize(NULL, pairs * HASH);
    if (!out) {
        PyBuffer_Release(&level);
        return NULL;
    }
    const unsigned char *below = level.buf;
    unsigned char *dest = (unsigned char *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    unsigned char node[1 + 2 * HASH];
    node[0] = 0x01;
    for (Py_ssize_t i = 0; i < pairs; i++) {
        memcpy(node + 1, below + 2 * i * HASH, 2 * HASH);
        sha256(node, sizeof node, dest + i * HASH);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&level);
    return out;
}

/* Where this module's SQLite lives: the caller compares it with the one Python's
 * sqlite3 module uses, because two copies of SQLite in one process must never open the
 * same file (closing one drops the other's POSIX locks: sqlite.org/howtocorrupt.html). */
static PyObject *sqlite_address(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromVoidPtr((void *)&sqlite3_libversion);
}

static PyMethodDef methods[] = {
    {"sqlite_address", sqlite_address, METH_NOARGS,
     "sqlite_address() -> address of sqlite3_libversion in the SQLite linked here"},
    {"sqlite_leaves", sqlite_leaves, METH_VARARGS,
     "sqlite_leaves(path, log, after, upto, limit) -> (hashes, positions, odd)"},
    {"leaf_hashes", leaf_hashes, METH_O, "leaf_hashes(datas) -> concatenated hashes"},
    {"parent_level", parent_level, METH_O, "parent_level(level) -> the level above"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "Compiled leaf and node hashing for the audit log (see log.py for the definition).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    init_escapes();
    return PyModule_Create(&module);
}
