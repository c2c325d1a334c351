import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { IModelArtsModel, ModelPart } from '../api/interfaces';
import { ICheck } from '../api/tokens';
import { Notifier } from '../notify';

// The real apputils pulls in ES-module web components that this jest setup does not
// transform; the notifier needs only Notification.
jest.mock('@jupyterlab/apputils', () => ({
  Notification: { warning: jest.fn(), emit: jest.fn(), dismiss: jest.fn() }
}));

function failing(id: string): ICheck {
  return {
    id,
    area: 'agency',
    title: `check ${id}`,
    status: 'fail',
    detail: 'no agency',
    fix: 'ModelArts console → 全局配置 → 添加授权',
    iam_action: null,
    agency: true
  };
}

/**
 * The parts of the model the notifier listens to.
 */
class FakeModel {
  failingChecks: ICheck[] = [];
  countdown = {
    thresholds: { warningMinutes: 10, criticalMinutes: 1 },
    remaining: () => null,
    stopAt: null
  };
  tick = new Signal<this, void>(this);
  changed = new Signal<this, void>(this);
  jobEnded = new Signal<this, unknown>(this);
  imageEnded = new Signal<this, unknown>(this);
  mountFailed = new Signal<this, unknown>(this);
  partChanged = new Signal<this, ModelPart>(this);
}

describe('Notifier', () => {
  it('should tell of failing checks once per page load', () => {
    const model = new FakeModel();
    const showChecks = jest.fn();
    new Notifier({
      model: model as unknown as IModelArtsModel,
      trans: nullTranslator.load('jupyter_modelarts'),
      saveBeforeStop: () => true,
      documents: () => [],
      renew: async () => undefined,
      openJob: () => undefined,
      showChecks
    });
    const warning = Notification.warning as jest.Mock;

    model.partChanged.emit('doctor');
    expect(warning).not.toHaveBeenCalled();

    model.failingChecks = [failing('agency'), failing('obs:bucket')];
    model.partChanged.emit('jobs');
    expect(warning).not.toHaveBeenCalled();
    model.partChanged.emit('doctor');
    expect(warning).toHaveBeenCalledTimes(1);
    expect(warning.mock.calls[0][0]).toBe(
      '2 ModelArts checks fail: check agency, check obs:bucket'
    );
    warning.mock.calls[0][1].actions[0].callback();
    expect(showChecks).toHaveBeenCalled();

    // Every later report (a refresh, a run) still failing: no second notification.
    model.partChanged.emit('doctor');
    model.failingChecks = [failing('agency')];
    model.partChanged.emit('doctor');
    expect(warning).toHaveBeenCalledTimes(1);
  });
});
