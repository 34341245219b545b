#ifndef MUXSYNC_CXXHASH_SHIM_H
#define MUXSYNC_CXXHASH_SHIM_H
#include <xxhash.h>
#endif
