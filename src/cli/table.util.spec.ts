import { formatDuration, renderKeyValues, renderTable } from './table.util';

describe('table rendering', () => {
  it('aligns columns and shows missing cells as -', () => {
    expect(
      renderTable(
        ['id', 'status', 'n'],
        [
          ['a', 'READY', 1],
          ['longer-id', undefined, 22],
        ],
      ),
    ).toBe('ID         STATUS  N\na          READY   1\nlonger-id  -       22\n');
  });

  it('flattens nested objects into key: value lines', () => {
    expect(renderKeyValues({ id: 'x', counts: { ready: 1 }, tags: ['a', 'b'], none: null })).toBe(
      'id:           x\ncounts.ready: 1\ntags:         a, b\nnone:         -\n',
    );
  });

  it('formats durations', () => {
    expect(formatDuration(350)).toBe('350ms');
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(123_000)).toBe('2m03s');
    expect(formatDuration(undefined)).toBeUndefined();
    expect(formatDuration(-1)).toBeUndefined();
  });
});
