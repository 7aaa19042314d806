/* Base45 (RFC 9285) decoding in C: the hot first step of every PHIC and DCC scan.
 * kiosk/codes/base45.py keeps a numpy implementation as the fallback and as the reference the tests
 * compare this one against. Errors are ValueError; the Python wrapper turns them into Base45Error. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static signed char TABLE[256];

static PyObject *decode(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    const char *error = NULL;
    PyObject *out = NULL;
    if (n % 3 == 1) {
        error = "base45: invalid length";
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (n / 3) * 2 + (n % 3 ? 1 : 0));
    if (out == NULL)
        goto done;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t i = 0;
    for (; i + 3 <= n; i += 3) {
        int a = TABLE[s[i]], b = TABLE[s[i + 1]], c = TABLE[s[i + 2]];
        if ((a | b | c) < 0) {
            error = "base45: character outside the alphabet";
            goto done;
        }
        unsigned v = (unsigned)(a + 45 * b + 2025 * c);
        if (v > 0xFFFF) {
            error = "base45: group value out of range";
            goto done;
        }
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)(v & 0xFF);
    }
    if (i < n) {
        int a = TABLE[s[i]], b = TABLE[s[i + 1]];
        if ((a | b) < 0) {
            error = "base45: character outside the alphabet";
            goto done;
        }
        unsigned v = (unsigned)(a + 45 * b);
        if (v > 0xFF) {
            error = "base45: final group value out of range";
            goto done;
        }
        *o = (unsigned char)v;
    }
done:
    PyBuffer_Release(&view);
    if (error != NULL) {
        Py_CLEAR(out);
        PyErr_SetString(PyExc_ValueError, error);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O, "Decode Base45 bytes; ValueError on invalid input."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_base45", NULL, -1, methods};

PyMODINIT_FUNC PyInit__base45(void)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    memset(TABLE, -1, sizeof TABLE);
    for (int i = 0; i < 45; i++)
        TABLE[(unsigned char)alphabet[i]] = (signed char)i;
    return PyModule_Create(&module);
}
