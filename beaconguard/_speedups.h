/* What the parts of beaconguard._speedups share. */
#ifndef BEACONGUARD_SPEEDUPS_H
#define BEACONGUARD_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* time.time() as the Python path reads it (a test clock moves both); -1 with an error set
   on failure. */
double bg_wall_clock(void);

/* time.perf_counter(), the same way. */
double bg_perf_counter(void);

/* Whether ``p`` is ``lower`` (lower case ASCII) in any letter case. */
int bg_same_name(const char *p, const char *lower, Py_ssize_t len);

/* Adds the access log's types (LogCore) to the module; -1 with an error set on failure. */
int bg_add_log_types(PyObject *module);

#endif
