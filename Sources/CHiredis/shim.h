#ifndef VSTREAM_CHIREDIS_SHIM_H
#define VSTREAM_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
