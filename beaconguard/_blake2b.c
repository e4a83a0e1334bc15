/*
 * beaconguard._speedups, the statistics' part: keyed BLAKE2b (RFC 7693), one shot.
 *
 * The compiled path needs the visitor hash that beaconguard/stats/aggregator.py computes
 * with hashlib.blake2b(data, key=day_key, digest_size=8); calling back into hashlib per
 * visit would cost more than the hash itself. Inputs are a few hundred bytes at most, so
 * there is no streaming API and no allocation: the whole message is in memory already.
 * tests/stats/test_blake2b.py holds this to hashlib byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_speedups.h"

#define BLOCK 128

static const uint64_t IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL,
    0xA54FF53A5F1D36F1ULL, 0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL,
    0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

/* BLAKE2b has 12 rounds; rounds 10 and 11 reuse rows 0 and 1 (index by round % 10). */
static const unsigned char SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t
rotr64(uint64_t x, unsigned n)
{
    return (x >> n) | (x << (64 - n));
}

/* The input may be unaligned; on a big-endian host the bytes are swapped in order. */
static inline uint64_t
load64_le(const unsigned char *p)
{
#if PY_LITTLE_ENDIAN
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
#else
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) {
        x = (x << 8) | p[i];
    }
    return x;
#endif
}

#define G(a, b, c, d, x, y)                                                                 \
    do {                                                                                    \
        v[a] = v[a] + v[b] + (x);                                                           \
        v[d] = rotr64(v[d] ^ v[a], 32);                                                     \
        v[c] = v[c] + v[d];                                                                 \
        v[b] = rotr64(v[b] ^ v[c], 24);                                                     \
        v[a] = v[a] + v[b] + (y);                                                           \
        v[d] = rotr64(v[d] ^ v[a], 16);                                                     \
        v[c] = v[c] + v[d];                                                                 \
        v[b] = rotr64(v[b] ^ v[c], 63);                                                     \
    } while (0)

/* The compression function F. ``t`` is the byte count so far; the RFC's counter is 128 bits,
   but an input held in memory cannot reach 2^64 bytes, so its high word stays 0. */
static void
compress(uint64_t h[8], const unsigned char block[BLOCK], uint64_t t, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = load64_le(block + 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= t;
    if (last) {
        v[14] = ~v[14];
    }
    /* Unrolled, every SIGMA index is a constant and m[] stays in registers: about twice
       as fast, and this runs three times per counted visit. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#pragma GCC unroll 12
#endif
    for (int r = 0; r < 12; r++) {
        const unsigned char *s = SIGMA[r % 10];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

#undef G

/* The data blocks, after ``t`` bytes (the key block's) so far; the last block zero padded
   and compressed as last (strictly greater: even a full one). */
static void
compress_data(uint64_t h[8], uint64_t t, const unsigned char *in, size_t inlen)
{
    unsigned char block[BLOCK];
    while (inlen > BLOCK) {
        t += BLOCK;
        compress(h, in, t, 0);
        in += BLOCK;
        inlen -= BLOCK;
    }
    memset(block, 0, BLOCK);
    if (inlen > 0) {
        memcpy(block, in, inlen);
    }
    t += inlen;
    compress(h, block, t, 1);
}

int
bg_blake2b(unsigned char *out, size_t outlen, const unsigned char *key, size_t keylen,
           const unsigned char *in, size_t inlen)
{
    if (outlen < 1 || outlen > 64 || keylen > 64 || (keylen > 0 && key == NULL)
        || (inlen > 0 && in == NULL)) {
        return -1;
    }
    uint64_t h[8];
    unsigned char block[BLOCK];
    uint64_t t = 0;

    memcpy(h, IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ (uint64_t)outlen;

    /* A key is hashed as a first block of its own, zero padded; it is the last block only
       when there is no data (the RFC's dd = 1 case). */
    if (keylen > 0) {
        memset(block, 0, BLOCK);
        memcpy(block, key, keylen);
        t = BLOCK;
        compress(h, block, t, inlen == 0);
    }
    if (keylen == 0 || inlen > 0) {
        compress_data(h, t, in, inlen);
    }

    for (size_t i = 0; i < outlen; i++) {
        out[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
    }
    return 0;
}

/* Big-endian, as aggregator.visitor_hash reads the digest with int.from_bytes. */
static unsigned long long
visitor_digest(const uint64_t h[8])
{
    unsigned long long x = 0;
    for (int i = 0; i < 8; i++) {
        x = (x << 8) | (unsigned char)(h[0] >> (8 * i));
    }
    return x;
}

int
bg_visitor_key_set(bg_visitor_key *k, const unsigned char *key, size_t keylen)
{
    if (keylen < 1 || keylen > 64 || key == NULL) {
        return -1;
    }
    unsigned char block[BLOCK];
    memcpy(k->h, IV, sizeof k->h);
    k->h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ 8;
    memset(block, 0, BLOCK);
    memcpy(block, key, keylen);
    /* Not the last block: the visitor's data always follows it. */
    compress(k->h, block, BLOCK, 0);
    memcpy(k->key, key, keylen);
    k->keylen = keylen;
    return 0;
}

unsigned long long
bg_visitor_hash_with(const bg_visitor_key *k, const unsigned char *in, size_t inlen)
{
    if (inlen == 0) {
        /* the key block is the last one: the one-shot path */
        return bg_visitor_hash(k->key, k->keylen, in, inlen);
    }
    uint64_t h[8];
    memcpy(h, k->h, sizeof h);
    compress_data(h, BLOCK, in, inlen);
    return visitor_digest(h);
}

unsigned long long
bg_visitor_hash(const unsigned char *key, size_t keylen, const unsigned char *in, size_t inlen)
{
    if (keylen > 0 && inlen > 0) {
        /* the compiled path's way: the key block first, then the data */
        bg_visitor_key k;
        if (bg_visitor_key_set(&k, key, keylen) < 0) {
            return 0;
        }
        return bg_visitor_hash_with(&k, in, inlen);
    }
    unsigned char digest[8];
    if (bg_blake2b(digest, sizeof digest, key, keylen, in, inlen) < 0) {
        return 0;
    }
    unsigned long long x = 0;
    for (size_t i = 0; i < sizeof digest; i++) {
        x = (x << 8) | digest[i];
    }
    return x;
}

/* ------------------------------------------------------------------------------------ */

static PyObject *
py_blake2b(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "key", "digest_size", NULL};
    Py_buffer data, key;
    Py_ssize_t digest_size;
    PyObject *result = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*n:blake2b", kwlist, &data, &key,
                                     &digest_size)) {
        return NULL;
    }
    if (digest_size < 1 || digest_size > 64) {
        PyErr_Format(PyExc_ValueError, "digest_size must be between 1 and 64, got %zd",
                     digest_size);
        goto done;
    }
    if (key.len > 64) {
        PyErr_Format(PyExc_ValueError, "key must be at most 64 bytes long, got %zd", key.len);
        goto done;
    }
    unsigned char out[64];
    if (digest_size == 8) {
        /* The visitor hash's size goes through bg_visitor_hash (and back to bytes) so the
           tests hold the function the compiled path will call, not only the one below it. */
        unsigned long long x = bg_visitor_hash(key.buf, (size_t)key.len, data.buf,
                                               (size_t)data.len);
        for (int i = 7; i >= 0; i--) {
            out[i] = (unsigned char)x;
            x >>= 8;
        }
    }
    else if (bg_blake2b(out, (size_t)digest_size, key.buf, (size_t)key.len, data.buf,
                        (size_t)data.len) < 0) {
        PyErr_SetString(PyExc_SystemError, "bg_blake2b rejected checked lengths");
        goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)out, digest_size);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

static PyMethodDef hash_methods[] = {
    {"blake2b", (PyCFunction)(void (*)(void))py_blake2b, METH_VARARGS | METH_KEYWORDS,
     "blake2b(data, key, digest_size) -> bytes\n\n"
     "hashlib.blake2b(data, key=key, digest_size=digest_size).digest(), computed by the C\n"
     "code the compiled path uses (for tests)."},
    {NULL, NULL, 0, NULL},
};

int
bg_add_hash_functions(PyObject *module)
{
    return PyModule_AddFunctions(module, hash_methods);
}
