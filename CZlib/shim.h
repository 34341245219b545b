#ifndef MUXSYNC_CZLIB_SHIM_H
#define MUXSYNC_CZLIB_SHIM_H
#include <zlib.h>
#endif
