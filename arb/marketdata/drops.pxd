# Cython declarations for drops.py (pure-Python mode, see book_side.pxd): C types for the per-level checks,
# which every level of every frame passes before any book sees it. Built only when Cython and a C compiler
# are there (setup.py); without them drops.py runs unchanged.
cimport cython

@cython.locals(text=str, seen=Py_ssize_t, first=Py_ssize_t, last=Py_ssize_t, point=bint, after=Py_ssize_t,
               char=Py_UCS4)
cpdef Py_ssize_t decimal_digits(object value) except? -2

@cython.locals(over=Py_ssize_t, digits=Py_ssize_t)
cpdef tuple checked_levels(object raw, str field)
