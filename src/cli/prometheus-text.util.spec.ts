import { parsePrometheusText } from './prometheus-text.util';

describe('parsePrometheusText', () => {
  it('reads samples with labels and skips comments', () => {
    const text = [
      '# HELP tasks_total Tasks',
      '# TYPE tasks_total counter',
      'tasks_total{agent="a\\"1",status="COMPLETED"} 3',
      'process_cpu_user_seconds_total 0.5',
      '',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'tasks_total', labels: { agent: 'a"1', status: 'COMPLETED' }, value: 3 },
      { name: 'process_cpu_user_seconds_total', labels: {}, value: 0.5 },
    ]);
  });
});
