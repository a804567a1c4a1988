#ifndef VSTREAM_CLIBPQ_SHIM_H
#define VSTREAM_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
