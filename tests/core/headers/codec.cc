// Compiles micro/codec.h on its own: it must include everything it uses.
#include "micro/codec.h"
