// Compiles micro/errors.h on its own: it must include everything it uses.
#include "micro/errors.h"
