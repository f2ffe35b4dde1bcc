// Compiles micro/registry.h on its own: it must include everything it uses.
#include "micro/registry.h"
