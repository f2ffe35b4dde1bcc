// Compiles micro/context.h on its own: it must include everything it uses.
#include "micro/context.h"
