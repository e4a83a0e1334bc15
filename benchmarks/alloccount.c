/* Count allocation requests made through Python's allocators, exactly and with no
 * observer effect: no profile hook is attached, so the interpreter runs its normal
 * specialized paths. The hook wraps the MEM and OBJ domains (every Python object and
 * most interpreter buffers) and counts only calls from the thread that started it.
 * Built by benchmarks/alloccount.py with the system C compiler. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "pythread.h"

static PyMemAllocatorEx orig_mem, orig_obj, hook_mem, hook_obj;
static int installed = 0;
static int active = 0;
static unsigned long owner = 0;
static unsigned long long n_allocs = 0, n_bytes = 0;

static inline void count(size_t size) {
    if (active && PyThread_get_thread_ident() == owner) {
        n_allocs++;
        n_bytes += size;
    }
}

static void *h_malloc(void *ctx, size_t size) {
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    count(size);
    return a->malloc(a->ctx, size);
}

static void *h_calloc(void *ctx, size_t nelem, size_t elsize) {
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    count(nelem * elsize);
    return a->calloc(a->ctx, nelem, elsize);
}

static void *h_realloc(void *ctx, void *ptr, size_t size) {
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    count(size);
    return a->realloc(a->ctx, ptr, size);
}

static void h_free(void *ctx, void *ptr) {
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    a->free(a->ctx, ptr);
}

static PyObject *start(PyObject *self, PyObject *args) {
    if (!installed) {
        PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &orig_mem);
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj);
        hook_mem = (PyMemAllocatorEx){&orig_mem, h_malloc, h_calloc, h_realloc, h_free};
        hook_obj = (PyMemAllocatorEx){&orig_obj, h_malloc, h_calloc, h_realloc, h_free};
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &hook_mem);
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hook_obj);
        installed = 1;
    }
    n_allocs = 0;
    n_bytes = 0;
    owner = PyThread_get_thread_ident();
    active = 1;
    Py_RETURN_NONE;
}

static PyObject *stop(PyObject *self, PyObject *args) {
    active = 0;
    return Py_BuildValue("(KK)", n_allocs, n_bytes);
}

static PyMethodDef methods[] = {
    {"start", start, METH_NOARGS, "Start counting this thread's allocations (from zero)."},
    {"stop", stop, METH_NOARGS, "Stop counting; return (allocations, bytes requested)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bg_alloccount", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bg_alloccount(void) { return PyModule_Create(&module); }
