/** A printed table's lines split into cells (two or more spaces apart; padding of right-aligned cells goes too). */
export const cells = (table: string): string[][] =>
  table
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
