// Compiles micro/component.h on its own: it must include everything it uses.
#include "micro/component.h"
