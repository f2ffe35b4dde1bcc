// Compiles micro/runtime.h on its own: it must include everything it uses.
#include "micro/runtime.h"
