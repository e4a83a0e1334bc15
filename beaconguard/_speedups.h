/* What the parts of beaconguard._speedups share. */
#ifndef BEACONGUARD_SPEEDUPS_H
#define BEACONGUARD_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* time.time() as the Python path reads it (a test clock moves both); -1 with an error set
   on failure. */
double bg_wall_clock(void);

/* time.perf_counter(), the same way. */
double bg_perf_counter(void);

/* Whether ``p`` is ``lower`` (lower case ASCII) in any letter case. */
int bg_same_name(const char *p, const char *lower, Py_ssize_t len);

/* 1 when one of ``routes`` (a dict: path below root_path -> endpoint) answers ``scope``, 0
   when not (or the scope is odd: then 1, for the Python path to judge), -1 on error. */
int bg_is_own_route(PyObject *routes, PyObject *scope);

/* Adds the access log's types (LogCore) to the module; -1 with an error set on failure. */
int bg_add_log_types(PyObject *module);

/* Keyed BLAKE2b (RFC 7693) of ``in`` into ``out``, one shot: outlen 1..64, keylen 0..64
   (key may be NULL when keylen is 0). -1 on bad lengths, else 0. No allocation. */
int bg_blake2b(unsigned char *out, size_t outlen, const unsigned char *key, size_t keylen,
               const unsigned char *in, size_t inlen);

/* The statistics' visitor hash: the 8-byte keyed BLAKE2b digest of ``in`` read big-endian,
   as beaconguard/stats/aggregator.py's visitor_hash computes it. 0 when keylen > 64. */
unsigned long long bg_visitor_hash(const unsigned char *key, size_t keylen,
                                   const unsigned char *in, size_t inlen);

/* A day key with its key block already compressed: the visitor hash of each visit then
   compresses only the visitor's own blocks. */
typedef struct {
    uint64_t h[8];
    unsigned char key[64];
    size_t keylen;
} bg_visitor_key;

/* Prepares ``k`` for ``key`` (1..64 bytes); -1 on a bad length. */
int bg_visitor_key_set(bg_visitor_key *k, const unsigned char *key, size_t keylen);

/* bg_visitor_hash(k's key, in) */
unsigned long long bg_visitor_hash_with(const bg_visitor_key *k, const unsigned char *in,
                                        size_t inlen);

/* Adds the hash functions for tests (blake2b) to the module; -1 with an error set on
   failure. */
int bg_add_hash_functions(PyObject *module);

#endif
