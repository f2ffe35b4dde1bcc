// Compiles micro/selector.h on its own: it must include everything it uses.
#include "micro/selector.h"
