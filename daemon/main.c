/* Placeholder until the command dispatcher lands. */
#include <stdio.h>

int main(void)
{
	fputs("redflagd: not built yet\n", stderr);
	return 1;
}
